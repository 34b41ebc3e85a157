// What a dev boot is made of: kernel, boot media, console, agent channel, extra devices.

export type Accel = 'kvm' | 'tcg';

/** initrd: an initramfs, no disk. image: Kata's rootfs image (MBR + ext4/erofs partition). */
export type BootMedia =
  | { kind: 'initrd'; initrd: string }
  | {
      kind: 'image';
      image: string;
      /** nvdimm: /dev/pmem0pN (DAX when the image has the PFN header); virtio-blk: /dev/vdaN. */
      attach: 'nvdimm' | 'virtio-blk';
      /** Root partition number (Kata's layout: 1). */
      partition?: number;
      fsType?: 'ext4' | 'erofs';
      /** Mount root with -o dax (nvdimm only; needs the image's fsdax PFN header). Default true. */
      dax?: boolean;
    };

export interface ExtraDisk {
  path: string;
  readonly?: boolean;
  /**
   * Kata's PCI path of the disk in the guest (q35 only): "SS" (root-bus slot) or "BB/SS" (slot
   * behind a PCI bridge at root slot BB, e.g. Kata's "02/00"). Default: QEMU picks a root slot.
   */
  pciPath?: string;
}

export interface NinePShare {
  tag: string;
  path: string;
  readonly?: boolean;
}

export interface BootOptions {
  /**
   * vmlinux (PVH entry, what Kata ships for QEMU) or bzImage. Prefer vmlinux under TCG: the
   * emulated bzImage decompressor costs seconds.
   */
  kernel: string;
  media: BootMedia;
  /**
   * Default q35 (Kata's machine): full ACPI gives the guest timers, power-off and the NFIT nvdimm
   * needs. microvm has no nvdimm; under TCG it has only the PIT to calibrate the TSC against,
   * which fails on a busy host (the boot hangs), so the guest is told the host's TSC rate
   * (tsc_early_khz=, see host-tsc.ts); should that be unknown, it runs with acpi=off, where the
   * guest cannot power off: its halt ends the run (see VmExit.shutdown).
   */
  machine?: 'microvm' | 'q35';
  /** Default: probe KVM once per process, fall back to TCG. */
  accel?: Accel | 'auto';
  memoryMiB?: number;
  /**
   * Under TCG only: the guest clock counts executed instructions, 2^N ns each (-icount
   * shift=N,sleep=off), so guest-side timings do not move with the host's load (benchmarks).
   */
  icountShift?: number;
  cpus?: number;
  /**
   * CPUs the guest may have after hotplug (-smp cpus,maxcpus=N; nr_cpus=N on the command line,
   * as Kata sets it from default_maxvcpus). Default: cpus, i.e. no CPU hotplug.
   */
  maxCpus?: number;
  /** Connect a QMP monitor (VmHandle.qmp) for hotplug and queries. Default false. */
  qmp?: boolean;
  console?: 'serial' | 'hvc';
  /** auto: vsock when /dev/vhost-vsock exists, else a virtio-serial port (agent.channel.0) on a unix socket. */
  agentChannel?: 'auto' | 'vsock' | 'serial' | 'none';
  /** Guest CID for vsock. */
  guestCid?: number;
  init?: string;
  quiet?: boolean;
  /** Appended to the kernel command line. */
  extraCmdline?: string[];
  disks?: ExtraDisk[];
  shares?: NinePShare[];
  /** Also write the console to this file. */
  consoleLog?: string;
  /** Copy console lines to this stream as they arrive (e.g. process.stdout for a dev boot). */
  echoConsole?: NodeJS.WritableStream;
  /** Kill QEMU if it has not exited by then. */
  timeoutMs?: number;
  /** Console line the guest prints with its run's exit status; default /KATA_GUEST_EXIT_STATUS=(\d+)/. */
  exitStatusPattern?: RegExp;
  qemuBinary?: string;
}
