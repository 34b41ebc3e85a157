// Turns resolved boot options into a qemu-system-x86_64 argument list. Pure, so it is testable
// without starting QEMU.
import type { Accel, BootOptions } from './boot-options';
import { diskPciProperties, pciBridgeArgs } from './disk-pci';
import { kernelCmdline } from './kernel-cmdline';
import { qemuQmpArgs } from './qmp';
import { vhostUserFsArgs } from './virtio-fs';

export interface ResolvedBoot {
  opts: BootOptions;
  accel: Accel;
  machine: 'microvm' | 'q35';
  channel: { kind: 'vsock'; cid: number } | { kind: 'serial'; socketPath: string } | { kind: 'none' };
  /** Size of the image file (nvdimm backends must match it). */
  imageBytes?: number;
  /** Unix socket a QmpMonitor listens on; QEMU's monitor connects to it. */
  qmpSocketPath?: string;
  /** The host's TSC rate (see host-tsc.ts): lets microvm under TCG keep ACPI, hence power-off. */
  hostTscKhz?: number;
  /** virtiofsd's vhost-user socket, when opts.virtioFs is set. */
  virtioFsSocketPath?: string;
}

/** The virtio-serial port name Kata's runtime uses for the agent when there is no vsock. */
export const AGENT_PORT_NAME = 'agent.channel.0';

export function qemuArgs(boot: ResolvedBoot): string[] {
  const { opts, accel, machine, channel } = boot;
  const media = opts.media;
  const cpus = opts.cpus ?? 1;
  const maxCpus = opts.maxCpus ?? cpus;
  if (!Number.isInteger(maxCpus) || maxCpus < cpus) throw new Error(`qemu args: maxCpus ${maxCpus} is not an integer >= cpus ${cpus}`);
  const memory = opts.memoryMiB ?? 512;
  const consoleKind = opts.console ?? 'serial';
  // microvm has no PCI bus: its virtio devices sit on virtio-mmio ("-device" suffix).
  const virtio = (name: string) => (machine === 'microvm' ? `${name}-device` : `${name}-pci`);
  const args: string[] = ['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot'];

  const nvdimm = media.kind === 'image' && media.attach === 'nvdimm';
  const extraCmdline: string[] = [];
  if (machine === 'microvm') {
    // Under TCG the guest gets the TSC rate from us (its PIT calibration fails under load); if we
    // cannot tell it, the older fallback: acpi=off, where the guest cannot power off (it halts).
    const acpiOff = accel === 'tcg' && boot.hostTscKhz === undefined;
    args.push('-M', `microvm,accel=${accel}${acpiOff ? ',acpi=off' : ''}`);
    if (accel === 'tcg' && !acpiOff) extraCmdline.push(`tsc_early_khz=${boot.hostTscKhz}`);
    // No i8042 to restart through: a triple fault does (and -no-reboot exits).
    if (accel === 'tcg') extraCmdline.push('reboot=t');
  } else {
    args.push('-M', `q35,accel=${accel}${nvdimm ? ',nvdimm=on' : ''}`);
  }
  args.push('-cpu', accel === 'kvm' ? 'host' : 'max');
  if (opts.icountShift !== undefined) {
    if (accel !== 'tcg') throw new Error('qemu args: icountShift needs TCG (instruction counting)');
    args.push('-icount', `shift=${opts.icountShift},sleep=off`);
  }
  args.push('-smp', maxCpus > cpus ? `${cpus},maxcpus=${maxCpus}` : String(cpus));
  // nvdimm needs a hotplug memory slot range to live in.
  args.push('-m', nvdimm ? `${memory}M,slots=2,maxmem=${Math.max(2048, memory * 2)}M` : `${memory}M`);
  // Before any device QEMU places itself: the bridges' slots must still be free.
  args.push(...pciBridgeArgs(opts.disks ?? [], machine, opts.pciBridges ?? 0));

  args.push('-kernel', opts.kernel);
  const root: string[] = [];
  if (media.kind === 'initrd') {
    args.push('-initrd', media.initrd);
  } else if (media.attach === 'nvdimm') {
    const part = media.partition ?? 1;
    const fs = media.fsType ?? 'ext4';
    // Read-only on both sides, as Kata does: share=on would otherwise let guest writes reach the file.
    args.push(
      '-object',
      `memory-backend-file,id=rootmem,mem-path=${media.image},size=${boot.imageBytes},share=on,readonly=on`,
      '-device',
      'nvdimm,id=rootnv,memdev=rootmem,unarmed=on',
    );
    const flags = [...(media.dax ?? true ? ['dax'] : []), ...(fs === 'ext4' ? ['data=ordered', 'errors=remount-ro'] : [])];
    root.push(`root=/dev/pmem0p${part}`, `rootfstype=${fs}`, 'ro');
    if (flags.length > 0) root.push(`rootflags=${flags.join(',')}`);
  } else {
    const part = media.partition ?? 1;
    args.push(
      '-drive',
      `file=${media.image},if=none,id=rootdisk,format=raw,readonly=on`,
      '-device',
      `${virtio('virtio-blk')},drive=rootdisk`,
    );
    root.push(`root=/dev/vda${part}`, `rootfstype=${media.fsType ?? 'ext4'}`, 'ro');
  }

  // Console: chardev "con" is QEMU's stdio, read by the VM handle.
  args.push('-chardev', 'stdio,id=con,signal=off');
  const needsSerialBus = consoleKind === 'hvc' || channel.kind === 'serial';
  if (consoleKind === 'serial') args.push('-serial', 'chardev:con');
  if (needsSerialBus) args.push('-device', `${virtio('virtio-serial')},id=vser`);
  if (consoleKind === 'hvc') args.push('-device', 'virtconsole,bus=vser.0,chardev=con');

  if (channel.kind === 'vsock') {
    args.push('-device', `${machine === 'microvm' ? 'vhost-vsock-device' : 'vhost-vsock-pci'},guest-cid=${channel.cid}`);
  } else if (channel.kind === 'serial') {
    args.push(
      '-chardev',
      `socket,id=agent,path=${channel.socketPath},server=on,wait=off`,
      '-device',
      `virtserialport,bus=vser.0,chardev=agent,name=${AGENT_PORT_NAME}`,
    );
  }

  if (boot.qmpSocketPath) args.push(...qemuQmpArgs(boot.qmpSocketPath));

  args.push('-object', 'rng-random,id=rng,filename=/dev/urandom', '-device', `${virtio('virtio-rng')},rng=rng`);

  (opts.disks ?? []).forEach((disk, i) => {
    args.push(
      '-drive',
      `file=${disk.path},if=none,id=disk${i},format=raw${disk.readonly ? ',readonly=on' : ''}`,
      '-device',
      `${virtio('virtio-blk')},drive=disk${i}${diskPciProperties(disk, opts.pciBridges ?? 0)}`,
    );
  });
  (opts.shares ?? []).forEach((share, i) => {
    args.push(
      '-fsdev',
      `local,id=fs${i},path=${share.path},security_model=none${share.readonly ? ',readonly=on' : ''}`,
      '-device',
      `${virtio('virtio-9p')},fsdev=fs${i},mount_tag=${share.tag}`,
    );
  });

  if (opts.virtioFs) {
    if (!boot.virtioFsSocketPath) throw new Error('qemu args: virtioFs needs the virtiofsd socket path');
    args.push(...vhostUserFsArgs(opts.virtioFs, boot.virtioFsSocketPath, machine, memory));
  }

  args.push(
    '-append',
    kernelCmdline({
      console: consoleKind,
      // nr_cpus bounds the possible CPUs: hot-added ones beyond it would never appear.
      cpus: maxCpus,
      root,
      init: opts.init,
      quiet: opts.quiet,
      extra: [...extraCmdline, ...(opts.extraCmdline ?? [])],
    }),
  );
  return args;
}
