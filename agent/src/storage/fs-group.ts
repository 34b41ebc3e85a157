// Kubernetes fsGroup on a volume, as Kata's agent applies it: every file and directory gets the
// group, group read (+ write unless the volume is read-only) and, on directories, group exec and
// setgid. With the OnRootMismatch policy nothing is done when the root already looks right.
import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Storage } from '../proto/messages.generated';
import { storageError } from './errors';

const GROUP_RW = 0o060 | 0o600;
const GROUP_RO = 0o040 | 0o400;
const GROUP_EXEC = 0o010 | 0o100;
const SETGID = 0o2000;

/** Kata's FSGroupChangePolicy: Always = 0, OnRootMismatch = 1 (as enum name or number). */
export function isOnRootMismatch(policy: string | number | undefined): boolean {
  return policy === 'OnRootMismatch' || policy === 1 || policy === '1';
}

export async function applyFsGroup(mountPoint: string, fsGroup: NonNullable<Storage['fs_group']>, readOnly: boolean): Promise<void> {
  const gid = fsGroup.group_id;
  const op = `apply fs_group ${gid} to ${mountPoint}`;
  try {
    if (isOnRootMismatch(fsGroup.group_change_policy)) {
      const root = await lstat(mountPoint);
      const want = (readOnly ? GROUP_RO : GROUP_RW) | GROUP_EXEC;
      if (root.gid === gid && (root.mode & want) === want && (root.mode & SETGID) !== 0) return;
    }
    await changeGroupRecursively(mountPoint, gid, readOnly);
  } catch (err) {
    throw storageError(op, err);
  }
}

async function changeGroupRecursively(target: string, gid: number, readOnly: boolean): Promise<void> {
  const info = await lstat(target);
  // Symlinks are skipped: changing them would change whatever they point at.
  if (info.isSymbolicLink()) return;
  let mask = readOnly ? GROUP_RO : GROUP_RW;
  if (info.isDirectory()) {
    for (const name of await readdir(target)) await changeGroupRecursively(path.join(target, name), gid, readOnly);
    mask |= GROUP_EXEC | SETGID;
  }
  await lchown(target, -1, gid);
  await chmod(target, (info.mode & 0o7777) | mask);
}
