// Issue 5's proof in a real guest: our kernel and image, the bundled agent as PID 1. From the
// host, ttRPC over the virtio-serial channel; inside the guest, a client over vsock loopback
// (CID 1) is refused unless local peers are allowed; orphans are reaped; DestroySandbox powers
// the VM off and QEMU exits 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import { agentImageFixture, bootAgent, consoleRun } from './agent-guest';
import { KERNEL_BUILD_TIMEOUT_MS, qemuMissingReason, testKernel } from './vm-fixture';
import { skipUnlessAvailable } from '../helpers/requirement';

const skipReason = qemuMissingReason();
const BOOT_MS = 120_000;

describe.skipIf(skipUnlessAvailable(skipReason))('the agent as PID 1 in a guest', () => {
  let kernel: KernelArtifacts;
  let image: string;
  let disposeImage: () => Promise<void>;
  beforeAll(async () => {
    kernel = await testKernel();
    ({ image, dispose: disposeImage } = await agentImageFixture());
  }, KERNEL_BUILD_TIMEOUT_MS);
  afterAll(() => disposeImage?.());

  it('serves the host over virtio-serial, guards vsock, reaps orphans, and powers off on DestroySandbox', async () => {
    const vm = await bootAgent(kernel, image);
    try {
      const client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
      expect(await client.request('Health/Check', {}, { timeoutMs: 20_000 })).toEqual({ status: 'SERVING' });
      expect(await client.request('GetGuestDetails', { mem_block_size: true }, { timeoutMs: 20_000 })).toMatchObject({ agent_details: { init_daemon: true } });
      // init brought the loopback interface up (IFF_UP = 1)
      const { Interfaces } = await client.request<{ Interfaces: Array<{ name: string; raw_flags: number }> }>('ListInterfaces', {}, { timeoutMs: 20_000 });
      expect(Interfaces.find((i) => i.name === 'lo')!.raw_flags & 1).toBe(1);

      // /sbin/init started the agent from the image's V8 startup snapshot.
      expect(await consoleRun(vm, "tr '\\0' ' ' </proc/1/cmdline | grep -q -- '--no-rehash-snapshot --snapshot-blob /usr/lib/kata-agent/agent.blob -- '", 'SNAP_RC')).toBe('0');

      // After ready, init enabled the cgroup controllers containers get (before the debug shell ran).
      expect(await consoleRun(vm, "(for c in cpu io memory pids; do grep -qw $c /sys/fs/cgroup/cgroup.subtree_control || exit 1; done)", 'CGROUP_RC')).toBe('0');

      // A process inside the guest dialing vsock loopback is not the host: refused.
      const rc = await consoleRun(vm, 'node /usr/lib/kata-agent/agent-ctl.js --addr vsock://1:1024 --timeout 10 check', 'VSOCK_RC');
      expect(rc).not.toBe('0');
      await vm.waitForConsole(/refused connection.*is not the host/, 10_000);

      // Orphans re-parented to PID 1 are reaped: no zombie is left once they have exited.
      const zombies = await consoleRun(
        vm,
        "sh -c 'sleep 0.2 & sleep 0.2 & exit 0'; sleep 2; echo ZOMBIES=$(grep -h '^State:' /proc/[0-9]*/status | grep -c Z)",
        'ZDONE',
      );
      expect(zombies).toBe('0');
      expect(vm.consoleLines).toContain('ZOMBIES=0');

      await client.request('CreateSandbox', { hostname: 'pod1', sandbox_id: 'sb1' }, { timeoutMs: 30_000 });
      await client.request('DestroySandbox', {}, { timeoutMs: 30_000 });
      client.close();
      const exit = await vm.exited;
      expect(exit).toMatchObject({ code: 0, timedOut: false, panicked: false });
    } finally {
      await vm.stop();
    }
  }, BOOT_MS + 60_000);

  it('lets a guest-local vsock client in when agent.allow_local_peers is set', async () => {
    const vm = await bootAgent(kernel, image, { extraCmdline: ['agent.allow_local_peers'] });
    try {
      const rc = await consoleRun(vm, 'node /usr/lib/kata-agent/agent-ctl.js --addr vsock://1:1024 --timeout 20 check', 'VSOCK_RC');
      expect(rc).toBe('0');
      expect(vm.consoleLines.some((l) => l.includes('"status": "SERVING"'))).toBe(true);
    } finally {
      await vm.stop();
    }
  }, BOOT_MS + 60_000);

  it('sleeps while idle (at most 2 wake-ups in 2 s) and serves each virtio-serial host connection as one session', async () => {
    const vm = await bootAgent(kernel, image, { extraCmdline: ['agent.log=debug'] });
    try {
      const sessions = () => vm.consoleLines.filter((l) => /"msg":"connection".*"sharedByClients":true/.test(l)).length;
      // How often any thread of PID 1 has slept and woken up so far.
      const wakeups = async (mark: string): Promise<number> => {
        await consoleRun(vm, `echo ${mark}_SW=$(cat /proc/1/task/*/status | busybox awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}')`, `${mark}_RC`);
        return Number(vm.consoleLines.find((l) => l.startsWith(`${mark}_SW=`))!.split('=')[1]);
      };
      // No host has connected yet. Polling the port (it reads EOF until a host comes) would wake
      // the agent and log a session every time; waiting for the port's SIGIO does neither.
      const before = await wakeups('IDLE0');
      expect(await consoleRun(vm, 'sleep 2', 'IDLE_RC')).toBe('0');
      // Polling every 100 ms would be 20 wake-ups here. A couple are V8's own one-off work after
      // start (its memory reducer runs a few seconds in).
      expect(await wakeups('IDLE1')).toBeLessThanOrEqual(before + 2);
      expect(sessions()).toBe(0);
      for (let host = 1; host <= 2; host++) {
        const client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
        expect(await client.request('Health/Check', {}, { timeoutMs: 20_000 })).toEqual({ status: 'SERVING' });
        client.close();
        // The agent logged the session before answering; a console round trip brings that line in.
        await consoleRun(vm, 'true', `HOST${host}_RC`);
        expect(sessions()).toBe(host);
      }
    } finally {
      await vm.stop();
    }
  }, BOOT_MS + 60_000);
});
