// A mount whose filesystem server stops answering (virtio-fs or 9p in a VM; here a FUSE
// filesystem the scenario serves itself and stops answering) must not freeze the agent: mount(2)
// runs on a thread of its own, the event loop and other calls go on, the call fails with
// DEADLINE_EXCEEDED at its deadline, and whatever the stuck mount does afterwards is undone.
// Scenarios in stalled-mount-ns-runner.ts, each in a private mount namespace.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../agent/src/ttrpc/status';
import { prepareScenarios, type ScenarioRunner } from '../helpers/ns-scenarios';
import { notRootReason, skipUnlessAvailable } from '../helpers/requirement';

function fuseMissingReason(): string | undefined {
  if (!existsSync('/dev/fuse')) spawnSync('modprobe', ['fuse'], { stdio: 'ignore' });
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse (the kernel has no FUSE, or its module is not loaded: modprobe fuse)';
  if (!/\tfuse$/m.test(readFileSync('/proc/filesystems', 'utf8'))) return 'the kernel has no fuse filesystem';
  return undefined;
}

let scenarios: ScenarioRunner | undefined;
const scenario = (name: string) => scenarios!.run(name);

describe.skipIf(skipUnlessAvailable(notRootReason() ?? fuseMissingReason()))('a mount whose filesystem server stalls', () => {
  beforeAll(async () => {
    scenarios = await prepareScenarios(path.join(__dirname, 'stalled-mount-ns-runner.ts'), ['-m', '--propagation', 'private'], 'stalled-mount-');
  });

  afterAll(() => scenarios?.dispose());

  it('leaves the event loop and other calls running, fails at the deadline, and leaves nothing once the server is gone', async () => {
    const r = await scenario('deadline-then-server-gone');
    // mount(2) was in the kernel, waiting on the server, from a thread that is not the JS thread.
    expect(r.stuckOnOtherThread).toBe(true);
    const mountSyscall = ({ x64: 165, arm64: 40 } as Record<string, number>)[process.arch];
    if (mountSyscall !== undefined) expect(r.stuckInSyscall).toBe(mountSyscall);
    expect(r.whileStuck).toMatchObject({ pings: 20, stillHeld: 1 });
    expect(r.whileStuck.turns).toBeGreaterThanOrEqual(500);
    expect(r.whileStuck.timers).toBeGreaterThanOrEqual(20);
    // The caller gets DEADLINE_EXCEEDED at its 400 ms deadline; the handler's own await rejects
    // then too, as a storage error saying what was given up, while mount(2) is still stuck.
    expect(r.reply.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(r.replyAfterMs).toBeGreaterThanOrEqual(390);
    expect(r.replyAfterMs).toBeLessThan(2000);
    expect(r.handler).toEqual({ code: Code.DEADLINE_EXCEEDED, message: expect.stringMatching(/^mount bind \S+\/share\/x at \S+\/target: not done by the call's deadline$/) });
    expect(r.handlerAfterMs).toBeGreaterThanOrEqual(390);
    expect(r.handlerAfterMs).toBeLessThan(2000);
    expect(r.pendingAfterDeadline).toBe(true);
    // A second mount at that mount point waits for the stuck one, within its own deadline.
    expect(r.retry).toEqual({ code: Code.DEADLINE_EXCEEDED, message: expect.stringContaining('an earlier mount there has not returned yet') });
    // The server went away: the stuck mount failed, and its mount point is gone with it.
    expect(r).toMatchObject({ mountedAfter: false, targetLeft: false, createdParentLeft: false, abandonedAfter: false });
  });

  it('detaches a mount that completes after its call gave up', async () => {
    const r = await scenario('deadline-then-late-success');
    expect(r.rejected).toEqual({ code: Code.DEADLINE_EXCEEDED, message: expect.stringContaining("not done by the call's deadline") });
    expect(r.rejectedAfterMs).toBeLessThan(500);
    expect(r.stillStuck).toBe(true);
    expect(r).toMatchObject({ mountCompleted: true, mountedAfter: false, targetLeft: false });
  });

  it('keeps Node\'s threadpool free: six stuck calls, and fs calls still complete', async () => {
    const r = await scenario('threadpool-spared');
    expect(r.threadsWhileStuck).toBe(6);
    expect(r.fsCallsDone).toBe(10);
    expect(r.results).toHaveLength(6);
    // The kernel fails a request of an aborted FUSE connection with ECONNABORTED (ENOTCONN before 6.x).
    for (const res of r.results) expect(res).toMatchObject({ message: expect.stringMatching(/bind source \S+: (ECONNABORTED|ENOTCONN)$/) });
    expect(r).toMatchObject({ anyMounted: false, anyLeft: false });
  });
});
