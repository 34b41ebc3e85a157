// Exit statuses of processes the agent did not spawn itself (pidfd), and reaping orphans as a
// subreaper without stealing statuses that belong to child_process, pidfd watchers or claimers.
// This test worker becomes a child subreaper, so a grandchild whose parent exits becomes ours.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OrphanReaper,
  claimPid,
  isChildSubreaper,
  isPid1,
  native,
  releasePid,
  setChildSubreaper,
  waitForProcessExit,
  type ReapedOrphan,
} from '../../agent/src/native';
import { ownedPids } from '../../agent/src/native/owned-pids';

beforeAll(() => setChildSubreaper(true));

interface Orphans {
  pids: number[];
  /** Each line written here lets one orphan run on past its `read`. */
  control: Writable;
}

/**
 * Starts `count` processes running `script` through a shell that exits at once, leaving them
 * orphaned (and reparented to us). Each waits for a line on fd 3 first. `$1` is its index (1..).
 * With keepParent the shell stays alive and waits for them instead.
 */
async function startOrphans(script: string, count = 1, keepParent = false): Promise<Orphans> {
  const launcher =
    'i=1; while [ $i -le "$2" ]; do sh -c "$1" orphan $i >/dev/null & echo $!; i=$((i + 1)); done' +
    (keepParent ? '; exec 1>&-; wait' : '');
  const shell = spawn('sh', ['-c', launcher, 'launcher', script, String(count)], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
  const exited = once(shell, 'exit');
  const stdout = shell.stdout!;
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  await once(stdout, 'end');
  if (!keepParent) await exited; // its children are ours from here on
  const pids = out.trim().split('\n').map(Number);
  expect(pids).toHaveLength(count);
  return { pids, control: shell.stdio[3] as Writable };
}

/** Blocks this (JS) thread until `pid` has exited, whoever reaps it: libuv cannot run meanwhile. */
function blockUntilExited(pid: number): void {
  execFileSync('python3', ['-c', 'import os,select,sys; select.select([os.pidfd_open(int(sys.argv[1]))],[],[])', String(pid)]);
}

function processState(pid: number): string | undefined {
  if (!existsSync(`/proc/${pid}/stat`)) return undefined;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

describe('waitForProcessExit', () => {
  it('reports the exit code of an orphaned grandchild', async () => {
    const { pids: [pid], control } = await startOrphans('read line <&3; exit 7');
    const exit = waitForProcessExit(pid!);
    control.end('go\n');
    expect(await exit).toEqual({ code: 7, signal: null });
    expect(processState(pid!)).toBeUndefined(); // reaped, no zombie left
  });

  it('reports the signal that killed it', async () => {
    const { pids: [pid], control } = await startOrphans('read line <&3; kill -USR1 $$');
    const exit = waitForProcessExit(pid!);
    control.end('go\n');
    expect(await exit).toEqual({ code: null, signal: 'SIGUSR1' });
  });

  it('reports a kill from outside', async () => {
    const { pids: [pid], control } = await startOrphans('read line <&3');
    const exit = waitForProcessExit(pid!);
    process.kill(pid!, 'SIGKILL');
    expect(await exit).toEqual({ code: null, signal: 'SIGKILL' });
    control.end();
  });

  it('fails with ECHILD for a process whose parent reaps it', async () => {
    const { pids: [pid], control } = await startOrphans('read line <&3; exit 1', 1, true);
    const exit = waitForProcessExit(pid!).catch((e: NodeJS.ErrnoException) => e);
    control.end('go\n');
    const err = (await exit) as NodeJS.ErrnoException;
    expect(err.code).toBe('ECHILD');
    expect(err.message).toBe(`wait for exit of pid ${pid}: ECHILD`);
    expect(err.syscall).toBe('waitid');
  });

  it('fails with ESRCH for a pid that is gone', async () => {
    const child = spawn('true');
    await once(child, 'exit');
    const err = (await waitForProcessExit(child.pid!).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toBe('ESRCH');
    expect(err.message).toBe(`watch exit of pid ${child.pid}: ESRCH`);
  });
});

describe('OrphanReaper', () => {
  const reaper = new OrphanReaper();
  const reaped: ReapedOrphan[] = [];
  reaper.on('reaped', (o) => reaped.push(o));
  beforeAll(() => void reaper.start());
  afterAll(() => reaper.stop());

  function reapedPid(pid: number): Promise<ReapedOrphan> {
    const done = reaped.find((o) => o.pid === pid);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => {
      const onReaped = (o: ReapedOrphan): void => {
        if (o.pid !== pid) return;
        reaper.off('reaped', onReaped);
        resolve(o);
      };
      reaper.on('reaped', onReaped);
    });
  }

  it('runs as a child subreaper when not PID 1', () => {
    expect(isPid1()).toBe(false);
    expect(isChildSubreaper()).toBe(true);
  });

  it('reaps an orphan on SIGCHLD and reports its status', async () => {
    const { pids: [pid], control } = await startOrphans('read line <&3; exit 9');
    const result = reapedPid(pid!);
    control.end('go\n');
    expect(await result).toEqual({ pid, code: 9, signal: null });
    expect(processState(pid!)).toBeUndefined();
  });

  it('reaps every orphan when their exits arrive together (one SIGCHLD for many)', async () => {
    const { pids, control } = await startOrphans('read line <&3; exit $1', 20);
    const results = Promise.all(pids.map(reapedPid));
    control.end('go\n'.repeat(20));
    const statuses = await results;
    // Each orphan reads one line; which one gets which line does not matter, each exits with its index.
    expect(statuses.map((s) => s.code).sort((a, b) => a! - b!)).toEqual(pids.map((_, i) => i + 1));
    for (const pid of pids) expect(processState(pid)).toBeUndefined();
  });

  it("never takes a child_process child's status, even when it is a zombie during a pass", async () => {
    const child = spawn('sh', ['-c', 'read line; exit 5'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const exited = once(child, 'exit');
    child.stdin.end('go\n');
    blockUntilExited(child.pid!);
    // libuv has not run since the child exited: it is a zombie that only libuv may reap.
    expect(processState(child.pid!)).toBe('Z');
    expect(native().libuvChildPids()).toContain(child.pid);
    expect(reaper.reapNow().map((o) => o.pid)).not.toContain(child.pid);
    expect(processState(child.pid!)).toBe('Z');
    expect(await exited).toEqual([5, null]);
  });

  it('leaves a process watched with waitForProcessExit to its watcher', async () => {
    const { pids: [pid], control } = await startOrphans('read line <&3; exit 11');
    const exit = waitForProcessExit(pid!);
    control.end('go\n');
    blockUntilExited(pid!);
    expect(reaper.reapNow().map((o) => o.pid)).not.toContain(pid);
    expect(await exit).toEqual({ code: 11, signal: null });
    expect(reaped.map((o) => o.pid)).not.toContain(pid);
  });

  it('leaves a claimed pid alone until it is released', async () => {
    reaper.stop(); // drive the passes by hand
    try {
      const { pids: [pid], control } = await startOrphans('read line <&3; exit 12');
      claimPid(pid!);
      control.end('go\n');
      blockUntilExited(pid!);
      expect(reaper.reapNow().map((o) => o.pid)).not.toContain(pid);
      expect(processState(pid!)).toBe('Z');
      releasePid(pid!);
      expect(reaper.reapNow()).toContainEqual({ pid, code: 12, signal: null });
    } finally {
      reaper.start();
    }
  });

  // Out of memory while listing whose statuses to leave alone, a pass could take one of those: it
  // must fail and reap nothing instead (testOnlyFailPidListAllocations fakes the failed realloc).
  it('reaps nothing, and says ENOMEM, when it cannot list the claimed pids', async () => {
    reaper.stop(); // drive the passes by hand
    const { pids: [pid], control } = await startOrphans('read line <&3; exit 14');
    claimPid(pid!);
    let claimed = true;
    try {
      control.end('go\n');
      blockUntilExited(pid!);
      native().testOnlyFailPidListAllocations(1);
      expect(() => reaper.reapNow()).toThrow(
        expect.objectContaining({ code: 'ENOMEM', message: 'reap orphans: list the pids owned by others (nothing reaped): ENOMEM' }),
      );
      expect(processState(pid!)).toBe('Z');
      releasePid(pid!);
      claimed = false;
      expect(reaper.reapNow()).toContainEqual({ pid, code: 14, signal: null });
    } finally {
      if (claimed) releasePid(pid!);
      native().testOnlyFailPidListAllocations(0);
      reaper.start();
    }
  });

  it("reaps nothing, and says ENOMEM, when it cannot list child_process's children", async () => {
    reaper.stop();
    try {
      const child = spawn('sh', ['-c', 'read line; exit 6'], { stdio: ['pipe', 'ignore', 'inherit'] });
      const exited = once(child, 'exit');
      child.stdin.end('go\n');
      blockUntilExited(child.pid!);
      expect(processState(child.pid!)).toBe('Z');
      expect(ownedPids()).toEqual([]); // so the first list the pass grows is libuv's children
      native().testOnlyFailPidListAllocations(1);
      expect(() => reaper.reapNow()).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
      expect(processState(child.pid!)).toBe('Z');
      expect(await exited).toEqual([6, null]);
    } finally {
      native().testOnlyFailPidListAllocations(0);
      reaper.start();
    }
  });

  it('still reports the status to waitForProcessExit when the reaper got there first', async () => {
    const { pids: [pid], control } = await startOrphans('read line <&3; exit 13');
    const result = reapedPid(pid!);
    control.end('go\n');
    await result;
    expect(await waitForProcessExit(pid!)).toEqual({ code: 13, signal: null });
  });
});
