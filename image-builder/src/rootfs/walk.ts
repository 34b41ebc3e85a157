import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

/** One entry of a rootfs tree, as every output format (cpio, tar, ext4 sizing) needs it. */
export interface TreeEntry {
  /** Path relative to the tree root with '/' separators and no leading slash. */
  path: string;
  kind: 'dir' | 'file' | 'symlink';
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  size: number;
  uid: number;
  gid: number;
  /** Symlink target, verbatim. */
  linkTarget?: string;
  /** Where the entry lives on the host. */
  hostPath: string;
}

/**
 * Lists a tree in a fixed order (bytewise by path, parents before children) so every output built
 * from it is reproducible whatever order the host's readdir returns.
 */
export async function walkTree(root: string): Promise<TreeEntry[]> {
  const rootStat = await lstat(root).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`read rootfs tree ${root}: ${e.code ?? e.message}`);
  });
  if (!rootStat.isDirectory()) throw new Error(`read rootfs tree ${root}: not a directory`);
  const entries: TreeEntry[] = [];
  await walkDirectory(root, '', entries);
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return entries;
}

async function walkDirectory(root: string, relativeDir: string, into: TreeEntry[]): Promise<void> {
  const hostDir = relativeDir ? path.join(root, relativeDir) : root;
  const names = await readdir(hostDir).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`read directory ${hostDir}: ${e.code ?? e.message}`);
  });
  for (const name of names) {
    const relative = relativeDir ? `${relativeDir}/${name}` : name;
    const hostPath = path.join(root, relative);
    const st = await lstat(hostPath);
    const common = { path: relative, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, hostPath };
    if (st.isDirectory()) {
      into.push({ ...common, kind: 'dir', size: 0 });
      await walkDirectory(root, relative, into);
    } else if (st.isFile()) {
      into.push({ ...common, kind: 'file', size: st.size });
    } else if (st.isSymbolicLink()) {
      const linkTarget = await readlink(hostPath);
      into.push({ ...common, kind: 'symlink', size: Buffer.byteLength(linkTarget), linkTarget });
    } else {
      throw new Error(`read rootfs tree entry ${hostPath}: unsupported file type (only files, directories and symlinks)`);
    }
  }
}
