// mount(2) / umount2(2) / chroot(2). Errors read like "mount tmpfs none at /x: EBUSY".
//
// mount and umount run on a thread of their own (blocking_calls.c): a virtio-fs or 9p server
// that stalls leaves the Promise pending, while the event loop (every other call, Health,
// child reaping) keeps running. Bounding the wait is the caller's business (mount-storage.ts).
import { native } from './addon';

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags = 0,
  data: string | null = null,
): Promise<void> {
  return native().mountAsync(source, target, fstype, flags, data);
}

/**
 * mount(2) on the JS thread, for PID 1's own boot mounts (/proc, /sys, /dev, the re-root):
 * they come before anything listens, and pseudo filesystems have no server to stall.
 */
export function mountSync(
  source: string | null,
  target: string,
  fstype: string | null,
  flags = 0,
  data: string | null = null,
): void {
  native().mount(source, target, fstype, flags, data);
}

/** umount2; pass MNT_DETACH for a lazy unmount. */
export function umount(target: string, flags = 0): Promise<void> {
  return native().umount2Async(target, flags);
}

/** chroot(2) for the whole agent process (all its threads share the root). */
export function chroot(path: string): void {
  native().chroot(path);
}
