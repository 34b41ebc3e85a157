// Issue 5's log vport and debug consoles in a real guest: our kernel and DAX image, the agent as
// PID 1 with agent.log_vport, agent.debug_console_vport and agent.allow_local_peers. The host has
// no vsock here, so the guest itself dials both ports over vsock loopback (CID 1), driven from
// the serial debug console; the host's ttRPC call (over virtio-serial) makes a log line that must
// come out of the log vport.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import type { VmHandle } from '../../image-builder/src/qemu';
import { agentImageFixture, bootAgent, consoleRun } from './agent-guest';
import { KERNEL_BUILD_TIMEOUT_MS, qemuMissingReason, testKernel } from './vm-fixture';
import { skipUnlessAvailable } from '../helpers/requirement';

const skipReason = qemuMissingReason();
const BOOT_MS = 150_000;
const LOG_VPORT = 1025;
const CONSOLE_VPORT = 1026;
const AGENT_CTL = 'node /usr/lib/kata-agent/agent-ctl.js';

/** Console lines the guest printed with `prefix` (sed 's/^/PREFIX/'), prefix removed. */
function prefixed(vm: VmHandle, prefix: string): string[] {
  return vm.consoleLines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

describe.skipIf(skipUnlessAvailable(skipReason))('log vport and debug consoles in a guest', () => {
  let kernel: KernelArtifacts;
  let image: string;
  let disposeImage: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    kernel = await testKernel();
    ({ image, dispose: disposeImage } = await agentImageFixture());
  }, KERNEL_BUILD_TIMEOUT_MS);
  afterAll(() => disposeImage?.());

  it('streams JSON logs on the log vport, serves a shell per connection on the console vport, and gives the serial shell a controlling tty', async () => {
    const vm = await bootAgent(kernel, image, {
      extraCmdline: [`agent.log_vport=${LOG_VPORT}`, `agent.debug_console_vport=${CONSOLE_VPORT}`, 'agent.allow_local_peers'],
      timeoutMs: BOOT_MS,
    });
    try {

      // The serial shell owns the console: /dev/tty opens (it fails with ENXIO without a
      // controlling terminal) and stdin is the console's real device.
      expect(await consoleRun(vm, 'tty; : > /dev/tty && echo CTTY_OK', 'TTY_RC')).toBe('0');
      expect(vm.consoleLines).toContain('/dev/ttyS0');
      expect(vm.consoleLines).toContain('CTTY_OK');

      // A log reader in the guest first gets the backlog (logged before anyone was connected)...
      const attached = await consoleRun(
        vm,
        `${AGENT_CTL} --addr vsock://1:${LOG_VPORT} logs --follow > /tmp/vport.log 2>&1 & until grep -q '"agent ready"' /tmp/vport.log; do sleep 0.1; done`,
        'ATTACHED',
      );
      expect(attached).toBe('0');
      // ...then lines as they are logged: one caused by a host call over virtio-serial.
      const sec = Math.floor(Date.now() / 1000);
      const client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
      try {
        await client.request('SetGuestDateTime', { Sec: sec, Usec: 0 }, { timeoutMs: 20_000 });
      } finally {
        client.close();
      }
      const shown = await consoleRun(
        vm,
        `until grep -q '"guest clock set"' /tmp/vport.log; do sleep 0.1; done; sed 's/^/VPORT: /' /tmp/vport.log`,
        'SHOWN',
      );
      expect(shown).toBe('0');
      const records = prefixed(vm, 'VPORT: ').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.find((r) => r.msg === 'agent ready')).toMatchObject({ level: 'info', pid1: true, name: 'kata-agent' });
      expect(records.find((r) => r.msg === 'guest clock set')).toMatchObject({ level: 'info', name: 'kata-agent' });
      expect(String(records.find((r) => r.msg === 'guest clock set')!.sec)).toBe(String(sec));

      // The console vport: a shell on a pty; input closed after one line is the shell's end of
      // input, and what it printed still comes back.
      const rc = await consoleRun(
        vm,
        `echo 'echo MARK$((40+2)); tty' | ${AGENT_CTL} --addr vsock://1:${CONSOLE_VPORT} console > /tmp/console.out; rc=$?; sed 's/^/DC: /' /tmp/console.out; (exit $rc)`,
        'CONSOLE_RC',
      );
      expect(rc).toBe('0');
      const session = prefixed(vm, 'DC: ').map((l) => l.replace(/\r$/, ''));
      expect(session.some((l) => l.endsWith('MARK42'))).toBe(true);
      expect(session.some((l) => /^\/dev\/pts\/\d+$/.test(l))).toBe(true);
      await vm.waitForConsole(/"msg":"debug console session".*"cid":1\b/, 10_000);
    } finally {
      await vm.stop();
    }
  }, BOOT_MS + 60_000);

});
