// mount(2) / umount2(2) / chroot(2). Errors read like "mount tmpfs none at /x: EBUSY".
import { native } from './addon';

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags = 0,
  data: string | null = null,
): void {
  native().mount(source, target, fstype, flags, data);
}

/** umount2; pass MNT_DETACH for a lazy unmount. */
export function umount(target: string, flags = 0): void {
  native().umount2(target, flags);
}

/** chroot(2) for the whole agent process (all its threads share the root). */
export function chroot(path: string): void {
  native().chroot(path);
}
