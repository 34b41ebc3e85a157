// Kata configuration.toml files that point a Kata runtime (runtime-go's containerd shim) at our
// kernel and image. Two variants:
//  - qemu: Kata's own QEMU driver boots our kernel and image (a host with KVM and vhost-vsock);
//  - remote: Kata's `remote` hypervisor type asks our remote-hypervisor service for the VM (any
//    host, KVM or not: the service's QEMU falls back to TCG and talks to the agent over
//    virtio-serial).
// Keys and defaults are those Kata's runtime reads (src/runtime/pkg/katautils/config.go); what
// this writes is loaded by the shim in the end-to-end tests.

export interface QemuKataConfig {
  variant: 'qemu';
  kernel: string;
  /** Our rootfs image (Kata's DAX layout) or an initrd; exactly one. */
  image?: string;
  initrd?: string;
  qemu: string;
  virtiofsd: string;
  kernelParams?: string[];
  memoryMiB?: number;
  vcpus?: number;
  debug?: boolean;
}

export interface RemoteKataConfig {
  variant: 'remote';
  /** The remote-hypervisor service's socket. */
  socket: string;
  /** How long StartVM may take, seconds (Kata's minimum is 60). */
  timeoutSeconds?: number;
  debug?: boolean;
}

export type KataConfig = QemuKataConfig | RemoteKataConfig;

const q = (s: string): string => JSON.stringify(s); // a TOML basic string

function runtimeSection(debug: boolean, remote: boolean): string[] {
  return [
    '[runtime]',
    `enable_debug = ${debug}`,
    // The VM's network is not wired to the pod's (no CNI here; host networking).
    `internetworking_model = ${q(remote ? 'none' : 'tcfilter')}`,
    ...(remote ? ['disable_new_netns = true', 'static_sandbox_resource_mgmt = true'] : []),
    'disable_guest_seccomp = false',
    'sandbox_cgroup_only = false',
    // Seconds the runtime gives CreateContainer; Kata's template fills it in, and without it
    // runtime-go's deadline is 0: every CreateContainer times out at once.
    'create_container_timeout = 60',
  ];
}

export function kataConfigToml(c: KataConfig): string {
  const debug = c.debug ?? false;
  const lines: string[] = ['# Written by image-builder kata-config: Kata pointed at kata-node-agent\'s kernel and image.'];
  if (c.variant === 'remote') {
    lines.push(
      '[hypervisor.remote]',
      `remote_hypervisor_socket = ${q(c.socket)}`,
      `remote_hypervisor_timeout = ${c.timeoutSeconds ?? 600}`,
      'enable_annotations = ["default_memory", "default_vcpus", "image"]',
      '',
      '[agent.kata]',
      `enable_debug = ${debug}`,
      '',
      ...runtimeSection(debug, true),
    );
  } else {
    if (!c.image === !c.initrd) throw new Error('kata-config qemu: give exactly one of image and initrd');
    lines.push(
      '[hypervisor.qemu]',
      `path = ${q(c.qemu)}`,
      `kernel = ${q(c.kernel)}`,
      c.image ? `image = ${q(c.image)}` : `initrd = ${q(c.initrd!)}`,
      'machine_type = "q35"',
      `kernel_params = ${q((c.kernelParams ?? []).join(' '))}`,
      `default_vcpus = ${c.vcpus ?? 1}`,
      `default_memory = ${c.memoryMiB ?? 2048}`,
      'shared_fs = "virtio-fs"',
      `virtio_fs_daemon = ${q(c.virtiofsd)}`,
      'virtio_fs_cache = "auto"',
      'block_device_driver = "virtio-blk"',
      `enable_debug = ${debug}`,
      '',
      '[agent.kata]',
      `enable_debug = ${debug}`,
      '',
      ...runtimeSection(debug, false),
    );
  }
  return `${lines.join('\n')}\n`;
}
