// KVM when it works, TCG otherwise. /dev/kvm can exist and open fine while guests hang (nested
// KVM on these machines), so the test is behavioural: boot our kernel under KVM with no root and
// require it to reach the "cannot mount root" panic within a few seconds. Under working KVM that
// takes well under a second; otherwise we kill the probe and use TCG. Once per process.
import { spawn } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Accel } from './boot-options';

const PROBE_TIMEOUT_MS = 4000;
const SETPRIV = '/usr/bin/setpriv';
let verdict: Promise<Accel> | undefined;

/** KATA_VM_ACCEL=kvm|tcg skips the probe. */
export function resolveAccel(kernel: string, qemu = 'qemu-system-x86_64'): Promise<Accel> {
  const forced = process.env.KATA_VM_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return Promise.resolve(forced);
  verdict ??= probeKvm(kernel, qemu);
  return verdict;
}

async function probeKvm(kernel: string, qemu: string): Promise<Accel> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return 'tcg';
  }
  return new Promise<Accel>((resolve) => {
    const args = [
      ...['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot'],
      ...['-M', 'microvm,accel=kvm', '-cpu', 'host', '-m', '128M', '-kernel', kernel],
      ...['-serial', 'stdio', '-append', 'console=ttyS0 panic=-1 root=/dev/kata-probe-no-root'],
    ];
    // Same -cpu host as a real KVM boot: on this kind of nested host QEMU aborts on it at once
    // (an MSR the host refuses), or, with the default CPU, hangs; both mean TCG.
    const [command, ...rest] = existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL', '--', qemu, ...args] : [qemu, ...args];
    const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    let settled = false;
    const settle = (accel: Accel): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(accel);
    };
    const timer = setTimeout(() => settle('tcg'), PROBE_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (/Kernel panic/.test(output)) settle('kvm');
    });
    child.on('error', () => settle('tcg'));
    child.on('close', () => settle(/Kernel panic/.test(output) ? 'kvm' : 'tcg'));
  });
}
