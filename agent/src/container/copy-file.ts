// CopyFile: the runtime copies files into the shared directory (when it has no shared fs for
// them), possibly in several chunks. A file is assembled in "<path>.tmp" and renamed into place
// when its last chunk arrives, so readers never see half a file. Nothing outside the shared
// directory is touched: ".." and symlinks on the way are refused.
import { constants as fsc } from 'node:fs';
import { chown, chmod, lstat, mkdir, open, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { SHARED_CONTAINERS } from '../paths';
import { Code, RpcError } from '../ttrpc/status';

export interface CopyFileRequest {
  path: string;
  file_size: string;
  file_mode: number;
  dir_mode: number;
  uid: number;
  gid: number;
  offset: string;
  data: Buffer;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

function refuse(p: string, why: string): RpcError {
  return new RpcError(Code.PERMISSION_DENIED, `copy file ${p}: ${why}; only paths under ${SHARED_CONTAINERS}/ are allowed`);
}

/** The target, checked to lie strictly inside `root`. */
export function confinedPath(requested: string, root = SHARED_CONTAINERS): string {
  if (!path.isAbsolute(requested)) throw refuse(requested, 'not an absolute path');
  if (requested.split('/').includes('..')) throw refuse(requested, 'the path contains ".."');
  const target = path.normalize(requested);
  if (!target.startsWith(`${root}/`)) throw refuse(requested, 'outside the shared directory');
  return target;
}

/** Creates missing parents below `root` with `dirMode`; an existing symlink on the way is refused. */
async function ensureParents(target: string, root: string, dirMode: number, requested: string): Promise<void> {
  const rel = path.relative(root, path.dirname(target));
  let current = root;
  for (const part of rel ? rel.split('/') : []) {
    current = `${current}/${part}`;
    const st = await lstat(current).catch(() => undefined);
    if (!st) {
      await mkdir(current, { mode: dirMode || 0o755 });
      continue;
    }
    if (st.isSymbolicLink()) throw refuse(requested, `${current} is a symlink`);
    if (!st.isDirectory()) throw new RpcError(Code.FAILED_PRECONDITION, `copy file ${requested}: ${current} is not a directory`);
  }
}

export async function copyFile(req: CopyFileRequest, root = SHARED_CONTAINERS): Promise<void> {
  const target = confinedPath(req.path, root);
  await ensureParents(target, root, req.dir_mode, req.path);
  const existing = await lstat(target).catch(() => undefined);
  if (existing?.isSymbolicLink() && (req.file_mode & S_IFMT) !== S_IFLNK) throw refuse(req.path, 'the target is a symlink');
  const owner = async (p: string, link = false) => {
    if (req.uid === -1 && req.gid === -1) return;
    if (link) return; // lchown is not worth a failure on a symlink here
    await chown(p, req.uid, req.gid);
  };
  switch (req.file_mode & S_IFMT) {
    case S_IFDIR:
      if (!existing) await mkdir(target, { mode: req.file_mode & 0o7777 });
      else if (!existing.isDirectory()) throw new RpcError(Code.FAILED_PRECONDITION, `copy file ${req.path}: exists and is not a directory`);
      await chmod(target, req.file_mode & 0o7777);
      await owner(target);
      return;
    case S_IFLNK:
      if (existing) await rm(target, { recursive: false, force: true });
      await symlink(req.data.toString(), target);
      await owner(target, true);
      return;
    default: {
      const tmp = `${target}.tmp`;
      const offset = Number(req.offset);
      const handle = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | (offset === 0 ? fsc.O_TRUNC : 0) | fsc.O_NOFOLLOW, 0o600);
      try {
        if (req.data.length > 0) await handle.write(req.data, 0, req.data.length, offset);
      } finally {
        await handle.close();
      }
      if (offset + req.data.length >= Number(req.file_size)) {
        await chmod(tmp, req.file_mode & 0o7777);
        await owner(tmp);
        await rename(tmp, target);
      }
    }
  }
}
