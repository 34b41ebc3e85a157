// fd-relative file calls of the addon (beneath.c), for writing into directories that an untrusted
// container can change at the same time: every name is resolved beneath a directory fd already
// held, and no symlink is ever followed (a symlink on the way is ELOOP, a ".." escape EXDEV).
import { native } from './addon';

/** unlinkat flag: remove a directory instead of a file. */
export const AT_REMOVEDIR = 0x200;

export interface OpenBeneathOptions {
  /** Use the per-component openat walk the addon falls back to where openat2 is missing. */
  walk?: boolean;
}

/**
 * openat2(dirfd, path, flags | O_NOFOLLOW | O_CLOEXEC, mode) with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS; a kernel without openat2 gets an equivalent walk.
 */
export function openBeneath(dirfd: number, path: string, flags: number, mode = 0, options: OpenBeneathOptions = {}): number {
  return native().openBeneath(dirfd, path, flags, mode, options.walk ?? false);
}

/** mkdirat(2). */
export function mkdirAt(dirfd: number, name: string, mode: number): void {
  native().mkdirAt(dirfd, name, mode);
}

/** fchmod(2). */
export function fchmod(fd: number, mode: number): void {
  native().fchmod(fd, mode);
}

/** fchown(2); -1 leaves that id as it is. */
export function fchown(fd: number, uid: number, gid: number): void {
  native().fchown(fd, uid, gid);
}

/** renameat(2) of `from` to `to`, both in the directory `dirfd`. */
export function renameAt(dirfd: number, from: string, to: string): void {
  native().renameAt(dirfd, from, to);
}

/** unlinkat(2); `flags` 0 or AT_REMOVEDIR. */
export function unlinkAt(dirfd: number, name: string, flags = 0): void {
  native().unlinkAt(dirfd, name, flags);
}

/** symlinkat(2): `name` in `dirfd` becomes a symlink whose text is `target`. */
export function symlinkAt(target: string, dirfd: number, name: string): void {
  native().symlinkAt(target, dirfd, name);
}

/** close(2). */
export function closeFd(fd: number): void {
  native().closeFd(fd);
}
