// From an initramfs, / is the kernel's initial "rootfs" mount, which pivot_root(2) refuses
// (EINVAL): crun could start no container. As switch_root does, the agent moves a bind mount of
// that root onto / and chroots into it; that root has a parent mount and can be pivoted.
// (Done here rather than in a shell launcher: three busybox runs cost ~0.3 s under TCG.)
import { mkdirSync, statfsSync } from 'node:fs';
import type { Logger } from '../log/logger';
import { chroot, mountSync, MS_BIND, MS_MOVE } from '../native';

const RAMFS_MAGIC = 0x858458f6;
const TMPFS_MAGIC = 0x01021994;

/** Whether `/` is a RAM filesystem: the initramfs (a disk root is ext4, erofs, virtio-fs...). */
export function rootIsInitramfs(statfs: (path: string) => { type: number } = statfsSync): boolean {
  const { type } = statfs('/');
  return type === RAMFS_MAGIC || type === TMPFS_MAGIC;
}

/** Re-roots an initramfs as described above; a disk root is left alone. Returns whether it did. */
export function rerootInitramfs(log: Logger, via = '/mnt'): boolean {
  if (!rootIsInitramfs()) return false;
  try {
    mkdirSync(via, { recursive: true });
    // Synchronous: this runs at boot before anything listens, on the in-memory root.
    mountSync('/', via, null, MS_BIND);
    process.chdir(via);
    mountSync('.', '/', null, MS_MOVE);
    chroot('.');
    process.chdir('/');
    log.debug('re-rooted the initramfs so that containers can pivot_root');
    return true;
  } catch (err) {
    log.error('cannot re-root the initramfs; containers will fail to pivot_root', { error: err });
    process.chdir('/');
    return false;
  }
}
