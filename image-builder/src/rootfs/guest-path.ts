import path from 'node:path';

/**
 * Maps a guest path ("/usr/bin/node", "etc/hosts") to its place under the tree root on the host,
 * refusing anything that would land outside the root ("../x", "/a/../../b").
 */
export function resolveInsideRoot(root: string, guestPath: string): string {
  const relative = normalizeGuestPath(guestPath);
  const absoluteRoot = path.resolve(root);
  const target = path.resolve(absoluteRoot, relative);
  if (target !== absoluteRoot && !target.startsWith(absoluteRoot + path.sep)) {
    throw new Error(`place ${guestPath} in rootfs ${root}: path escapes the rootfs`);
  }
  return target;
}

/** "/usr//bin/./node" -> "usr/bin/node"; rejects ".." that climbs above the root. */
export function normalizeGuestPath(guestPath: string): string {
  if (guestPath.includes('\0')) throw new Error(`guest path ${JSON.stringify(guestPath)}: contains NUL`);
  const parts: string[] = [];
  for (const part of guestPath.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new Error(`place ${guestPath} in rootfs: path escapes the rootfs`);
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}
