// Small checks on file descriptors for native tests.
import { fstatSync } from 'node:fs';

/** Whether `fd` is open in this process. */
export function isFdOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}
