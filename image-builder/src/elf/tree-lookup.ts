import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';

/** A path found inside one staged tree, plus the symlinks crossed on the way (to copy them too). */
export interface TreeLookup {
  /** The regular file reached, as a guest path without leading slash. */
  file: string;
  /** Guest paths of every symlink followed, with their targets. */
  symlinks: Array<{ path: string; target: string }>;
}

const MAX_SYMLINKS = 40; // as the kernel's own ELOOP limit

/**
 * Resolves a guest path inside a tree the way the guest will, treating absolute symlink targets
 * as relative to the tree root (a staged package is not installed at /).
 */
export async function lookupInTree(root: string, guestPath: string): Promise<TreeLookup | undefined> {
  const symlinks: TreeLookup['symlinks'] = [];
  let pending = splitPath(guestPath);
  let resolved: string[] = [];
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') { resolved.pop(); continue; }
    const candidate = [...resolved, part];
    const st = await lstat(path.join(root, ...candidate)).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (symlinks.length >= MAX_SYMLINKS) return undefined;
      const target = await readlink(path.join(root, ...candidate));
      symlinks.push({ path: candidate.join('/'), target });
      pending = [...splitPath(target), ...pending];
      if (target.startsWith('/')) resolved = [];
      continue;
    }
    if (pending.length && !st.isDirectory()) return undefined;
    if (!pending.length && !st.isFile()) return undefined;
    resolved = candidate;
  }
  return resolved.length ? { file: resolved.join('/'), symlinks } : undefined;
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '');
}
