// Mount point checks and creation. A mount point must be an absolute, normalised path with no
// ".." component, so a request can never name a place by climbing out of another.
import { mkdir, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { invalidStorage, storageError } from './errors';

/** "/run/x/" -> "/run/x"; rejects relative paths, ".." components and "/". */
export function checkMountPoint(mountPoint: string, what: string): string {
  if (typeof mountPoint !== 'string' || mountPoint === '') throw invalidStorage(`${what}: empty mount point`);
  if (mountPoint.includes('\0')) throw invalidStorage(`${what}: mount point contains a NUL byte`);
  if (!mountPoint.startsWith('/')) throw invalidStorage(`${what}: mount point "${mountPoint}" is not absolute`);
  if (mountPoint.split('/').includes('..')) throw invalidStorage(`${what}: mount point "${mountPoint}" contains ".."`);
  const normalised = path.posix.normalize(mountPoint).replace(/\/+$/, '');
  if (normalised === '') throw invalidStorage(`${what}: refusing to mount over "/"`);
  return normalised;
}

/**
 * mkdir -p that reports the top-most directory it created (undefined if it existed), so that
 * a rollback removes exactly what this storage added.
 */
export async function makeDirectory(dir: string, mode = 0o755): Promise<string | undefined> {
  try {
    return (await mkdir(dir, { recursive: true, mode })) ?? undefined;
  } catch (err) {
    throw storageError(`create mount point ${dir}`, err);
  }
}

/** Removes the empty directories from `dir` up to and including `top` (what makeDirectory made). */
export async function removeCreatedDirectories(dir: string, top: string | undefined): Promise<void> {
  if (top === undefined) return;
  let current = dir;
  for (;;) {
    try {
      await rmdir(current);
    } catch {
      return; // not empty or still a mount point: leave it
    }
    if (current === top || current === '/' || !current.startsWith(top)) return;
    current = path.dirname(current);
  }
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
