// RemoveStaleVirtiofsShareMounts: after the host removed a file or directory it had shared and
// bind-mounted for a container (e.g. a ConfigMap revision), the guest's mount of it under the
// virtio-fs share is stale. Unmount (detached) exactly those mounts under the share directory
// whose source is gone: stat(2) fails with ESTALE/ENOENT, or the kernel marks the mount's root
// "//deleted". Nothing else is touched.
import path from 'node:path';
import { MNT_DETACH } from '../native/constants';
import { statPath } from '../native/fs-stat';
import { umount } from '../native/mount';
import type { Logger } from '../log/logger';
import { type MountEntry, readMountTable } from './mount-table';

export const SHARED_CONTAINERS_DIR = '/run/kata-containers/shared/containers';

/** stat(2) on a thread of its own: a stale share mount is exactly where stat may not return. */
export async function isStale(entry: MountEntry): Promise<boolean> {
  if (entry.root.endsWith('//deleted')) return true;
  try {
    await statPath(entry.mountPoint);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ESTALE' || code === 'ENOENT';
  }
}

/** Mounts strictly below `shareDir`, deepest first so nested ones go before their parents. */
export async function staleShareMounts(mounts: readonly MountEntry[], shareDir: string): Promise<MountEntry[]> {
  const prefix = path.resolve(shareDir) + '/';
  const below = mounts.filter((m) => m.mountPoint.startsWith(prefix));
  const stale = await Promise.all(below.map(isStale));
  return below.filter((_, i) => stale[i]).sort((a, b) => b.mountPoint.length - a.mountPoint.length);
}

export async function removeStaleShareMounts(opts: { shareDir?: string; mountinfo?: string; log?: Logger } = {}): Promise<string[]> {
  const shareDir = opts.shareDir ?? SHARED_CONTAINERS_DIR;
  const removed: string[] = [];
  const seen = new Set<string>();
  for (const m of await staleShareMounts(readMountTable(opts.mountinfo), shareDir)) {
    if (seen.has(m.mountPoint)) continue; // stacked mounts: one detach takes the top one; the next call the rest
    seen.add(m.mountPoint);
    try {
      await umount(m.mountPoint, MNT_DETACH);
      removed.push(m.mountPoint);
      opts.log?.info('unmounted stale share mount', { mountPoint: m.mountPoint, root: m.root });
    } catch (err) {
      opts.log?.warn('unmount stale share mount failed', { mountPoint: m.mountPoint, error: (err as Error).message });
    }
  }
  return removed;
}
