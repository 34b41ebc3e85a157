// PID 1 with one listener alone and no host for a minute: the guest must stay up. Node ends a
// process once nothing holds its event loop, and PID 1 ending panics the kernel ("Attempted to
// kill init!"); a virtio-serial listener waiting for its first host held nothing, so an agent
// with agent.server_addr=serial:///... alone ended about half a second after "agent ready".
// One boot per listener kind, both at once (the minute of idling is cheap under TCG).
//
// The serial case boots without the debug console: its shell is a child of the agent, and a
// child holds the event loop too (it would hide the bug). The guest's clock there is the agent's
// own log timestamps. The vsock case has no host to reach it (no vhost-vsock here), so the
// guest's debug shell sleeps the minute and then dials the agent over vsock loopback.
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import type { VmHandle } from '../../image-builder/src/qemu';
import { skipUnlessAvailable } from '../helpers/requirement';
import { AGENT_READY, agentImageFixture, bootAgent, consoleRun } from './agent-guest';
import { KERNEL_BUILD_TIMEOUT_MS, qemuMissingReason, testKernel } from './vm-fixture';

const IDLE_MS = 60_000;
const VM_MS = 240_000;
const PANIC = /Kernel panic|Attempted to kill init/;

/** The JSON record of the first console line matching `pattern`. */
function logRecord(vm: VmHandle, pattern: RegExp): Record<string, unknown> {
  const line = vm.consoleLines.find((l) => pattern.test(l));
  if (line === undefined) throw new Error(`no console line matches ${pattern}`);
  return JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
}

/** The console around the first panic line, or its last lines. */
function consoleExcerpt(vm: VmHandle): string {
  const lines = vm.consoleLines;
  const panic = lines.findIndex((l) => PANIC.test(l));
  return (panic < 0 ? lines.slice(-15) : lines.slice(Math.max(0, panic - 5), panic + 2)).join('\n');
}

describe.skipIf(skipUnlessAvailable(qemuMissingReason()))('PID 1 idling with one listener and no host', () => {
  let kernel: KernelArtifacts;
  let image: string;
  let disposeImage: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    kernel = await testKernel();
    ({ image, dispose: disposeImage } = await agentImageFixture());
  }, KERNEL_BUILD_TIMEOUT_MS);
  afterAll(() => disposeImage?.());

  it.concurrent('virtio-serial alone: up a minute with no host, then serves the host that connects', async () => {
    const vm = await bootAgent(kernel, image, {
      serverAddr: 'serial:///dev/virtio-ports/agent.channel.0',
      debugConsole: false,
      extraCmdline: ['agent.log=debug'], // the session's "connection" line, with its time
      timeoutMs: VM_MS,
    });
    try {
      // A minute with no host, unless the guest ends first (the bug: a panic, and QEMU exits).
      const idle = await Promise.race([vm.exited.then((exit) => ({ ended: exit })), delay(IDLE_MS, 'idle' as const)]);
      expect(idle, `the guest ended while no host was connected:\n${consoleExcerpt(vm)}`).toBe('idle');

      const client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
      try {
        expect(await client.request('Health/Check', {}, { timeoutMs: 20_000 })).toEqual({ status: 'SERVING' });
        // By the guest's clock the host's session began a minute or more after ready.
        await vm.waitForConsole(/"msg":"connection".*"sharedByClients":true/, 10_000);
        const ready = Date.parse(String(logRecord(vm, AGENT_READY).ts));
        const session = Date.parse(String(logRecord(vm, /"msg":"connection".*"sharedByClients":true/).ts));
        expect(session - ready).toBeGreaterThanOrEqual(IDLE_MS);

        // The one way PID 1 leaves: an orderly, logged power-off.
        await client.request('CreateSandbox', { hostname: 'idle', sandbox_id: 'idle' }, { timeoutMs: 30_000 });
        await client.request('DestroySandbox', {}, { timeoutMs: 30_000 });
      } finally {
        client.close();
      }
      expect(await vm.exited).toMatchObject({ code: 0, timedOut: false, panicked: false });
      expect(vm.consoleLines.some((l) => /"msg":"powering off"/.test(l))).toBe(true);
      expect(vm.consoleLines.filter((l) => PANIC.test(l))).toEqual([]);
    } finally {
      await vm.stop();
    }
  }, VM_MS);

  it.concurrent('vsock alone: up a minute with no host, then serves a vsock client', async () => {
    const vm = await bootAgent(kernel, image, {
      serverAddr: 'vsock://-1:1024',
      extraCmdline: ['agent.allow_local_peers'], // the guest's own client stands in for the host
      timeoutMs: VM_MS,
    });
    try {
      // The guest's clock: its shell sleeps the minute, then dials the agent over vsock loopback.
      const rc = await consoleRun(
        vm,
        'sleep 60; node /usr/lib/kata-agent/agent-ctl.js --addr vsock://1:1024 --timeout 20 check',
        'ALIVE_RC',
        IDLE_MS + 60_000,
      );
      expect(rc, consoleExcerpt(vm)).toBe('0');
      expect(vm.consoleLines.some((l) => l.includes('"status": "SERVING"'))).toBe(true);
      expect(vm.consoleLines.filter((l) => PANIC.test(l))).toEqual([]);
    } finally {
      await vm.stop();
    }
  }, VM_MS);
});
