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

/**
 * A host directory shared over virtio-fs, served by a real virtiofsd (Kata's default shared_fs).
 * The guest mounts it with `mount -t virtiofs <tag> <dir>`.
 */
export interface VirtioFsShare {
  /** What the guest mounts (Kata's: kataShared). */
  tag: string;
  /** Host directory virtiofsd serves (Kata's: /run/kata-containers/shared/sandboxes/<id>/shared). */
  sharedDir: string;
  /** virtiofsd --readonly: the guest cannot change anything in it. */
  readonly?: boolean;
  /** virtiofsd --cache (default auto, Kata's virtio_fs_cache). */
  cache?: 'auto' | 'always' | 'never' | 'metadata';
  /** The argv prefix that starts virtiofsd; default the host's or the staged one (virtiofsdCommand()). */
  virtiofsd?: string[];
  /** More virtiofsd options; default Kata's virtio_fs_extra_args (--thread-pool-size=1 --announce-submounts). */
  extraArgs?: string[];
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
  /**
   * Kata's default_bridges (q35 only): this many empty pci-bridges at root slots 2, 3, ... (ids
   * pci-bridge-0, -1, ...; SHPC off, ACPI hotplug), where hotplugVirtioBlk() puts disks as
   * Kata's QEMU driver does. A disk's pciPath behind one of these slots uses that bridge.
   * Default 0.
   */
  pciBridges?: number;
  shares?: NinePShare[];
  /**
   * One virtio-fs share: virtiofsd is started first (its socket in the boot's temp dir), the
   * guest's RAM becomes shared memory (file-backed in /dev/shm, share=on, as Kata does) and QEMU
   * gets a vhost-user-fs device with the tag. virtiofsd ends with the VM.
   */
  virtioFs?: VirtioFsShare;
  /**
   * argv put in front of both the QEMU and the virtiofsd command, e.g.
   * ['nsenter', '--mount=/proc/<pid>/ns/mnt', '--'] to run the VM in another process's mount
   * namespace. Both still die with this process: setpriv --pdeathsig KILL runs before the prefix
   * and again right before the command (a prefix that forks, such as nsenter --pid, then still
   * passes our death on). setpriv must exist wherever the prefix takes the command.
   */
  spawnPrefix?: string[];
  /**
   * Where the boot's sockets go (agent.sock, qmp.sock, virtiofs.sock). Default a fresh temp dir,
   * removed when the VM ends; a given one is created if missing and kept (only our sockets in it
   * are removed), so a caller can name the agent socket before the boot.
   */
  socketDir?: string;
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
