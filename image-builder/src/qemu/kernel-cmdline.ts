// The guest kernel command line: Kata's QEMU defaults (see design/guest-image.md) plus the console
// and root for the chosen boot media.

/** Parameters Kata's runtime passes with QEMU, minus console/root which depend on the boot. */
export const KATA_BASE_CMDLINE = [
  'tsc=reliable',
  'no_timer_check',
  'rcupdate.rcu_expedited=1',
  'i8042.direct=1',
  'i8042.dumbkbd=1',
  'i8042.nopnp=1',
  'i8042.noaux=1',
  'noreplace-smp',
  'reboot=k',
  'cryptomgr.notests',
  'net.ifnames=0',
  'pci=lastbus=0',
  // A panic reboots after 1 s, and -no-reboot turns that into QEMU exiting: no hung test.
  'panic=1',
  'selinux=0',
  'systemd.unified_cgroup_hierarchy=1',
  'cgroup_no_v1=all',
];

export interface CmdlineParts {
  console: 'serial' | 'hvc';
  cpus: number;
  /** root=... and friends; empty for an initramfs boot. */
  root: string[];
  init?: string;
  quiet?: boolean;
  extra?: string[];
}

export function kernelCmdline(parts: CmdlineParts): string {
  const args = [...KATA_BASE_CMDLINE, `nr_cpus=${parts.cpus}`];
  // ttyS0 prints from early boot; hvc0 only once virtio-console probes (Kata's choice).
  args.push(parts.console === 'serial' ? 'console=ttyS0' : 'console=hvc0');
  if (parts.quiet) args.push('quiet');
  args.push(...parts.root);
  if (parts.init) args.push(`init=${parts.init}`);
  args.push(...(parts.extra ?? []));
  return args.join(' ');
}
