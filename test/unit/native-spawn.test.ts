// posix_spawn through the addon (agent/native/src/spawn.c): the child starts as child_process
// would start it (default signal dispositions, stdio as given, no other fd), its exit status
// comes from a pidfd, and the orphan reaper never takes it.
import { closeSync, readdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrphanReaper, createPipe, setChildSubreaper, spawnProcess, type ReapedOrphan } from '../../agent/src/native';
import { ownedPids } from '../../agent/src/native/owned-pids';

/** Runs `path args` with stdout on a pipe; resolves with its output and exit status. */
async function runCaptured(path: string, args: string[], env?: NodeJS.ProcessEnv) {
  const pipe = createPipe();
  let spawned;
  try {
    spawned = spawnProcess(path, args, ['ignore', pipe.write, 'ignore'], { env });
  } finally {
    closeSync(pipe.write);
  }
  const out = new Socket({ fd: pipe.read, readable: true, writable: false });
  const chunks: Buffer[] = [];
  out.on('data', (b: Buffer) => chunks.push(b));
  await new Promise((resolve) => out.once('end', resolve));
  return { out: Buffer.concat(chunks).toString(), status: await spawned.exited, pid: spawned.pid };
}

const reaper = new OrphanReaper();
const reaped: ReapedOrphan[] = [];
beforeAll(() => {
  setChildSubreaper(true);
  reaper.on('reaped', (o) => reaped.push(o));
  reaper.start();
});
afterAll(() => reaper.stop());

describe('spawnProcess', () => {
  it('reports the exit code and the pid', async () => {
    const s = spawnProcess('sh', ['-c', 'exit 7'], ['ignore', 'ignore', 'ignore']);
    expect(s.pid).toBeGreaterThan(0);
    expect(await s.exited).toEqual({ code: 7, signal: null });
  });

  it('starts the child with default signal dispositions and an empty mask', async () => {
    // Node ignores SIGPIPE; an ignored signal would survive exec and the shell could not reset it.
    const s = spawnProcess('sh', ['-c', 'kill -PIPE $$'], ['ignore', 'ignore', 'ignore']);
    expect(await s.exited).toEqual({ code: null, signal: 'SIGPIPE' });
    const { out } = await runCaptured('sh', ['-c', 'grep -E "^Sig(Blk|Ign):" /proc/self/status']);
    expect(out).toContain('SigBlk:\t0000000000000000');
    expect(out).toContain('SigIgn:\t0000000000000000');
  });

  it('maps the given fds to 0-2 and passes no other fd', async () => {
    // This worker holds fds that are not close-on-exec (vitest's), which must not leak either.
    const { out, status } = await runCaptured('ls', ['/proc/self/fd']);
    expect(status).toEqual({ code: 0, signal: null });
    // 0-2 and the directory ls itself opened
    expect(out.trim().split('\n').sort()).toEqual(['0', '1', '2', '3']);
  });

  it('passes argv and the environment as given, or ours by default', async () => {
    const given = await runCaptured('/bin/sh', ['-c', 'echo "$0 $1 $SPAWN_TEST"', 'a b', 'c'], { SPAWN_TEST: 'x=y' });
    expect(given.out).toBe('a b c x=y\n');
    process.env.SPAWN_TEST_INHERITED = 'yes';
    try {
      expect((await runCaptured('sh', ['-c', 'echo $SPAWN_TEST_INHERITED'])).out).toBe('yes\n');
    } finally {
      delete process.env.SPAWN_TEST_INHERITED;
    }
  });

  it('throws ENOENT naming the program that is missing', () => {
    let err: NodeJS.ErrnoException | undefined;
    try {
      spawnProcess('/nonexistent/crun', ['--version'], ['ignore', 'ignore', 'ignore']);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.code).toBe('ENOENT');
    expect(err?.message).toBe('spawn /nonexistent/crun: ENOENT');
    expect(() => spawnProcess('no-such-program-on-path', [], ['ignore', 'ignore', 'ignore'])).toThrow(
      'spawn no-such-program-on-path: ENOENT',
    );
  });

  it('claims the pid before returning, so the orphan reaper never takes the status', async () => {
    const spawned = Array.from({ length: 20 }, (_, i) => {
      const s = spawnProcess('sh', ['-c', `exit ${i}`], ['ignore', 'ignore', 'ignore']);
      expect(ownedPids()).toContain(s.pid);
      return s;
    });
    // A reaping pass while they exit (SIGCHLD also triggers them): none may be taken.
    reaper.reapNow();
    const statuses = await Promise.all(spawned.map((s) => s.exited));
    expect(statuses.map((s) => s.code)).toEqual(spawned.map((_, i) => i));
    const pids = new Set(spawned.map((s) => s.pid));
    expect(reaped.filter((o) => pids.has(o.pid))).toEqual([]);
    for (const pid of pids) expect(ownedPids()).not.toContain(pid);
  });
});

it('leaves the fds it was given open in this process', () => {
  const p = createPipe();
  const s = spawnProcess('true', [], [p.read, p.write, p.write]);
  expect(readdirSync('/proc/self/fd')).toEqual(expect.arrayContaining([String(p.read), String(p.write)]));
  closeSync(p.read);
  closeSync(p.write);
  return s.exited;
});

