// virtio-fs as Kata's QEMU driver sets it up: a virtiofsd per share on a vhost-user socket, the
// guest's RAM as shared memory (vhost-user needs the backend to map it) and a vhost-user-fs
// device carrying the tag. Pure argument building; virtiofsd-daemon.ts runs the daemon.
import type { VirtioFsShare } from './boot-options';

/** Kata's virtio_fs_queue_size default. */
export const VIRTIO_FS_QUEUE_SIZE = 1024;
/** Kata's virtio_fs_extra_args default. */
export const KATA_VIRTIOFSD_EXTRA_ARGS = ['--thread-pool-size=1', '--announce-submounts'];
/** Kata's memory backend id and its fallback file_mem_backend directory. */
export const SHARED_MEMORY_ID = 'dimm1';
export const SHARED_MEMORY_DIR = '/dev/shm';

/**
 * virtiofsd's own options (after its command). Kata passes a listening socket as --fd=3; we let
 * virtiofsd create it (--socket-path) and wait for it. No --tag: QEMU ignores the config space
 * it would enable, and QEMU 7.1-8.0 (bookworm's 7.2) crash on it (virtiofsd --help says so); the
 * tag goes on QEMU's device instead. --sandbox=namespace (virtiofsd's default, Kata's too):
 * as root it unshares mount, pid and net namespaces and pivot_roots into the shared directory,
 * which works here; chroot is meant for a daemon already inside a container, none for unprivileged
 * runs. Logs go to stderr (Kata: --syslog), which we keep for errors.
 */
export function virtiofsdArgs(share: VirtioFsShare, socketPath: string): string[] {
  return [
    `--socket-path=${socketPath}`,
    `--shared-dir=${share.sharedDir}`,
    `--cache=${share.cache ?? 'auto'}`,
    '--sandbox=namespace',
    ...(share.readonly ? ['--readonly'] : []),
    ...(share.extraArgs ?? KATA_VIRTIOFSD_EXTRA_ARGS),
  ];
}

/**
 * QEMU's side: the guest RAM as a shared file-backed backend (Kata: memory-backend-file in
 * /dev/shm with share=on, attached as NUMA node 0), the vhost-user chardev, and the device.
 * On q35 the device sits on the root bus where QEMU places it, as Kata's govmm leaves it
 * (no bus/addr); microvm has virtio-mmio only.
 */
export function vhostUserFsArgs(share: VirtioFsShare, socketPath: string, machine: 'microvm' | 'q35', memoryMiB: number): string[] {
  if (!/^[^,\s]{1,36}$/.test(share.tag)) throw new Error(`virtio-fs tag "${share.tag}": 1-36 characters, no commas or spaces`);
  const device = machine === 'microvm' ? 'vhost-user-fs-device' : 'vhost-user-fs-pci';
  return [
    '-object', `memory-backend-file,id=${SHARED_MEMORY_ID},size=${memoryMiB}M,mem-path=${SHARED_MEMORY_DIR},share=on`,
    '-numa', `node,memdev=${SHARED_MEMORY_ID}`,
    '-chardev', `socket,id=char-vfs,path=${socketPath}`,
    '-device', `${device},chardev=char-vfs,tag=${share.tag},queue-size=${VIRTIO_FS_QUEUE_SIZE}`,
  ];
}
