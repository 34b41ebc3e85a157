// Kata's "fsgid=N" option on ephemeral and local volumes: the directory gets group N and the
// setgid bit, so files created inside inherit the pod's group.
import { chmod, chown, stat } from 'node:fs/promises';
import { storageError } from '../errors';

export async function giveDirectoryToGroup(dir: string, gid: number): Promise<void> {
  try {
    await chown(dir, -1, gid);
    const info = await stat(dir);
    await chmod(dir, (info.mode & 0o7777) | 0o2000);
  } catch (err) {
    throw storageError(`set group ${gid} on ${dir}`, err);
  }
}
