// A virtio-fs server that stops answering while the agent mounts from its share (issue 16, item
// 8): our kernel and image with the agent as PID 1, a real virtiofsd, and the Kata 3.19.1
// runtime's requests for a virtio-fs pod. The sandbox mounts the share; then virtiofsd is
// SIGSTOPped, and CreateContainer, whose rootfs is <share>/<cid>/rootfs, waits on FUSE requests
// that sit in the virtqueue. (Mounting the share itself does not wait: virtio-fs sends FUSE_INIT
// in the background, so a CreateSandbox with virtiofsd stopped succeeds.) The mounts run on
// threads of their own (storage/call-deadline.ts, native blocking_calls.c): Health/Check must
// keep answering at its usual latency throughout, the stuck call must end with DEADLINE_EXCEEDED
// at its deadline, and once virtiofsd goes on (SIGCONT) nothing of that call may remain: no mount
// under the container's bundle, only the share mounted from virtio-fs, and the same
// CreateContainer then succeeds and runs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import { SHARED_CONTAINERS, SHARED_FS_TAG } from '../../agent/src/paths';
import { SYNC_WAIT_MS } from '../../agent/src/sandbox/lifecycle';
import { UNMOUNT_WAIT_MS } from '../../agent/src/storage/mount-storage';
import { Code, RpcError } from '../../agent/src/ttrpc/status';
import type { VmHandle } from '../../image-builder/src/qemu';
import { skipUnlessAvailable } from '../helpers/requirement';
import { agentImageFixture, bootAgent, consoleRun } from './agent-guest';
import { CALL_MS } from './container-guest';
import {
  VIRTIOFS_CONTAINER_ID, makeKataShare, processesMentioning, virtiofsVmRequirement, readStdoutToEnd, virtiofsContainerRequest, virtiofsSandboxRequest,
} from './virtiofs-guest';
import { KERNEL_BUILD_TIMEOUT_MS, testKernel } from './vm-fixture';

const { install: virtiofsd, missing } = await virtiofsVmRequirement();
const skip = skipUnlessAvailable(missing);

const BOOT_MS = 240_000;
/** The stuck CreateSandbox's deadline: long enough for many Checks, short for the test. */
const DEADLINE_MS = 3_000;
/** The bound on a Check's latency the issue asks for. */
const CHECK_BOUND_MS = 100;
const CID = VIRTIOFS_CONTAINER_ID;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `${s.length} calls, median ${percentile(s, 0.5).toFixed(1)} ms, p90 ${percentile(s, 0.9).toFixed(1)} ms, max ${s.at(-1)!.toFixed(1)} ms`;
}

describe.skipIf(skip)('a virtio-fs server stalled while CreateContainer mounts from its share, in a guest VM', () => {
  let image: Awaited<ReturnType<typeof agentImageFixture>>;
  let dir: string;
  let share: string;
  let vm: VmHandle;
  let client: AgentClient;
  let stopped: number[] = [];
  const sandboxRequest = virtiofsSandboxRequest();
  const containerRequest = virtiofsContainerRequest(['sh', '-c', 'echo after the stall']);

  const resume = () => {
    for (const pid of stopped.splice(0)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
  };

  /** Health/Check latencies, back to back, until `until` settles (or `count` of them). */
  async function checkLatencies(opts: { until?: Promise<unknown>; count?: number }): Promise<number[]> {
    let settled = false;
    void opts.until?.then(() => (settled = true), () => (settled = true));
    const out: number[] = [];
    while (opts.until ? !settled : out.length < opts.count!) {
      const t0 = performance.now();
      expect(await client.request('Health/Check', {}, { timeoutMs: 10_000 })).toEqual({ status: 'SERVING' });
      out.push(performance.now() - t0);
    }
    return out;
  }

  const consoleOnFailure = async (body: () => Promise<void>) => {
    try {
      await body();
    } catch (err) {
      process.stderr.write(`--- guest console (last 60 lines) ---\n${vm?.consoleLines.slice(-60).map((l) => l.slice(0, 400)).join('\n')}\n`);
      throw err;
    }
  };

  beforeAll(async () => {
    if (missing) throw new Error(`${missing} (CI=true: the virtio-fs VM test must run, not skip)`);
    const install = virtiofsd!;
    const kernel = await testKernel();
    image = await agentImageFixture();
    dir = await mkdtemp(join(tmpdir(), 'vm-virtiofs-stall-'));
    share = makeKataShare(dir, containerRequest, sandboxRequest);
    vm = await bootAgent(kernel, image.image, {
      virtioFs: { tag: SHARED_FS_TAG, sharedDir: share, virtiofsd: install.command },
      timeoutMs: BOOT_MS,
      readyTimeoutMs: 90_000,
      extraCmdline: ['agent.log=debug'],
    });
    client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
  }, KERNEL_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    resume();
    client?.close();
    await vm?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    await image?.dispose();
  });

  it('answers Health/Check at its usual latency while CreateContainer is stuck on the share, fails the call at its deadline, and leaves nothing once virtiofsd goes on', async () => {
    await consoleOnFailure(async () => {
      // The pod's share, mounted and answering (FUSE_INIT done: a listing went through it).
      await client.requestJson('CreateSandbox', sandboxRequest, { timeoutMs: CALL_MS });
      expect(await consoleRun(vm, `ls ${SHARED_CONTAINERS}/${CID}/rootfs/bin >/dev/null`, 'sharelisted')).toBe('0');
      // Warm up the path (the first calls compile handlers), then the baseline.
      await checkLatencies({ count: 10 });
      const before = await checkLatencies({ count: 50 });

      // virtiofsd and the process its namespace sandbox forks; not QEMU, which names the socket too.
      const vfs = vm.virtiofsd!;
      stopped = [...new Set([vfs.pid, ...processesMentioning(vfs.socketPath)])].filter((pid) => pid !== vm.pid);
      expect(stopped).toContain(vfs.pid);
      for (const pid of stopped) process.kill(pid, 'SIGSTOP');

      const t0 = performance.now();
      const create = client.requestJson('CreateContainer', containerRequest, { timeoutMs: DEADLINE_MS });
      const answer = create.then(
        () => ({ ok: true as const, ms: performance.now() - t0 }),
        (err: unknown) => ({ ok: false as const, err, ms: performance.now() - t0 }),
      );
      const during = await checkLatencies({ until: answer });
      const result = await answer;
      // Still stuck: more Checks after the deadline, while the share does not answer.
      const after = await checkLatencies({ count: 20 });

      const baselineMax = Math.max(...before);
      const stalled = [...during, ...after];
      const stalledMax = Math.max(...stalled);
      // 100 ms is the aim. On a loaded 2-core host a TCG guest's Checks may already take longer
      // before the stall (one of 154.6 ms was seen): then twice the worst of those is the bound.
      const bound = Math.max(CHECK_BOUND_MS, 2 * baselineMax);
      const median = (ms: number[]) => percentile([...ms].sort((a, b) => a - b), 0.5);
      process.stderr.write(
        `[virtiofs-stall] Check before the stall: ${summary(before)}\n` +
          `[virtiofs-stall] Check while CreateContainer was stuck: ${summary(during)}; after its deadline, still stuck: ${summary(after)}\n` +
          `[virtiofs-stall] CreateContainer: ${result.ok ? 'OK' : String((result as { err: unknown }).err)} after ${result.ms.toFixed(0)} ms (deadline ${DEADLINE_MS} ms); bound on Check ${bound.toFixed(1)} ms\n`,
      );
      expect(result.ok).toBe(false);
      expect((result as { err: unknown }).err).toBeInstanceOf(RpcError);
      expect(((result as { err: RpcError }).err).code).toBe(Code.DEADLINE_EXCEEDED);
      expect(during.length).toBeGreaterThanOrEqual(10);
      expect(stalledMax).toBeLessThan(bound);
      // And the usual Check stays usual: no slower than three times the baseline's median.
      expect(median(stalled)).toBeLessThan(Math.max(10, 3 * median(before)));
      expect(result.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
      expect(result.ms).toBeLessThan(DEADLINE_MS + 2_000);

      // virtiofsd goes on: whatever of the call was stuck returns in the guest, and is undone.
      resume();
      // The agent's own account: the create it gave up at the deadline came back and was undone.
      const undone = /"msg":"create container given up by its call: undone".*/;
      const line = vm.consoleLines.find((l) => undone.test(l)) ?? (await vm.waitForConsole(undone, 30_000))[0];
      process.stderr.write(`[virtiofs-stall] after SIGCONT: ${line.trim()}\n`);
      expect(line).toMatch(/DEADLINE_EXCEEDED|not done by the call's deadline|deadline/);
      const bundle = `/run/kata-containers/${CID}`;
      const deadline = Date.now() + 60_000;
      for (let i = 0; ; i++) {
        const status = await consoleRun(vm, `! grep -q ' ${bundle}' /proc/mounts && [ "$(grep -c ' virtiofs ' /proc/mounts)" = 1 ]`, `stallleft${i}`);
        if (status === '0') break;
        if (Date.now() > deadline) throw new Error('mounts of the stuck CreateContainer were left after SIGCONT');
        await new Promise((r) => setTimeout(r, 500));
      }
      // No container was left either: the same request now succeeds, and the container runs.
      await client.requestJson('CreateContainer', containerRequest, { timeoutMs: CALL_MS });
      await client.request('StartContainer', { container_id: CID }, { timeoutMs: CALL_MS });
      expect(await readStdoutToEnd(client, CID, CID, CALL_MS)).toBe('after the stall\n');
      expect((await client.request<{ status: number }>('WaitProcess', { container_id: CID, exec_id: CID }, { timeoutMs: CALL_MS })).status).toBe(0);
      await client.request('RemoveContainer', { container_id: CID, timeout: 30 }, { timeoutMs: CALL_MS });

      // The server stops again before the pod goes: unmounting a virtio-fs share waits for its
      // FUSE_DESTROY, and a sync for its writeback, which nothing answers now. DestroySandbox
      // detaches the share and stops waiting for the sync after their waits.
      stopped = [...new Set([vfs.pid, ...processesMentioning(vfs.socketPath)])].filter((pid) => pid !== vm.pid);
      for (const pid of stopped) process.kill(pid, 'SIGSTOP');
      const t1 = performance.now();
      await client.request('DestroySandbox', {}, { timeoutMs: CALL_MS });
      const destroyMs = performance.now() - t1;
      process.stderr.write(`[virtiofs-stall] DestroySandbox with virtiofsd stopped: ${destroyMs.toFixed(0)} ms\n`);
      expect(vm.consoleLines.filter((l) => l.includes('unmount did not return')).join('\n')).toContain(SHARED_CONTAINERS);
      // The unmount's wait, then the sync's (which the stopped share holds too), and some room.
      expect(destroyMs).toBeLessThan(UNMOUNT_WAIT_MS + SYNC_WAIT_MS + 5_000);
      // The guest kernel's own power-off waits for the stopped device too (a Kata runtime stops
      // the VM itself after DestroySandbox): the server goes on, and the VM powers off.
      resume();
      client.close();
      expect(await vm.exited).toMatchObject({ shutdown: 'power-off', panicked: false });
      expect(vm.consoleLines.filter((l) => l.includes('"level":"error"'))).toEqual([]);
    });
  }, BOOT_MS);
});
