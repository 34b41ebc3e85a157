// The common path of every mounting driver: check options, create the mount point, mount,
// apply flags a bind mount only takes on remount, propagation, fs_group; and on any failure
// undo all of it. The handle it returns unmounts and removes what it created.
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger';
import { MNT_DETACH, MS_BIND, MS_REC, MS_REMOUNT, MS_RDONLY } from '../native/constants';
import { mount, umount } from '../native/mount';
import { Code, RpcError } from '../ttrpc/status';
import type { StorageHandle } from './driver';
import { errnoOf, invalidStorage, storageError } from './errors';
import { applyFsGroup } from './fs-group';
import { type MountOptions, parseMountOptions } from './mount-options';
import { makeDirectory, pathExists, removeCreatedDirectories } from './mount-point';
import type { StorageSpec } from './types';

export interface MountRequest {
  /** Storage driver name, for messages ("virtio-fs"). */
  driver: string;
  /** What mount(2) gets as source: a device path, a virtio-fs tag, "tmpfs", a directory ... */
  source: string;
  fstype: string;
  options: readonly string[];
  mountPoint: string;
  fsGroup?: StorageSpec['fs_group'];
  /** Bind mounts of a file need a file, not a directory, as mount point. */
  mountPointIsFile?: boolean;
  /** Option parsing already done by the driver (e.g. with defaults added). */
  parsed?: MountOptions;
}

export function describeMount(req: Pick<MountRequest, 'driver' | 'source' | 'mountPoint'>): string {
  return `mount ${req.driver} ${req.source} at ${req.mountPoint}`;
}

export async function mountStorage(req: MountRequest, log: Logger): Promise<StorageHandle> {
  const what = describeMount(req);
  let opts: MountOptions;
  try {
    opts = req.parsed ?? parseMountOptions(req.options);
  } catch (err) {
    throw invalidStorage(`${what}: ${(err as Error).message}`);
  }

  if (opts.flags & MS_BIND && !(await pathExists(req.source))) {
    throw new RpcError(Code.NOT_FOUND, `${what}: bind source ${req.source} does not exist`);
  }
  const created = req.mountPointIsFile ? await makeFileMountPoint(req.mountPoint) : await makeDirectoryMountPoint(req.mountPoint);
  let mounted = false;
  try {
    try {
      mount(req.source, req.mountPoint, req.fstype || null, opts.flags, opts.data || null);
    } catch (err) {
      throw storageError(what, err);
    }
    mounted = true;
    if (opts.flags & MS_BIND) remountBindWithFlags(req, opts.flags);
    for (const propagation of opts.propagation) {
      try {
        mount(null, req.mountPoint, null, propagation, null);
      } catch (err) {
        throw storageError(`set propagation 0x${propagation.toString(16)} on ${req.mountPoint}`, err);
      }
    }
    if (req.fsGroup) await applyFsGroup(req.mountPoint, req.fsGroup, (opts.flags & MS_RDONLY) !== 0);
  } catch (err) {
    if (mounted) {
      try {
        unmountStorage(req.mountPoint, log);
      } catch (undoErr) {
        // Report the failure that started this; the failed undo goes to the log.
        log.error('could not undo a failed storage mount', { mountPoint: req.mountPoint, error: undoErr });
      }
    }
    await created.remove();
    throw err;
  }
  log.info('storage mounted', { driver: req.driver, source: req.source, mountPoint: req.mountPoint, fstype: req.fstype, flags: opts.flags, data: opts.data });

  return {
    mountPoint: req.mountPoint,
    release: async () => {
      unmountStorage(req.mountPoint, log);
      await created.remove();
    },
  };
}

// A bind mount ignores ro/nosuid/nodev/noexec on the first call; they take a remount.
function remountBindWithFlags(req: MountRequest, flags: number): void {
  const extra = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (extra === 0) return;
  try {
    mount(null, req.mountPoint, null, MS_REMOUNT | MS_BIND | extra, null);
  } catch (err) {
    throw storageError(`remount bind ${req.mountPoint} with flags 0x${extra.toString(16)}`, err);
  }
}

/** What creating a mount point added, and how to take it away again. */
interface CreatedMountPoint {
  remove(): Promise<void>;
}

async function makeDirectoryMountPoint(target: string): Promise<CreatedMountPoint> {
  const top = await makeDirectory(target);
  return { remove: () => removeCreatedDirectories(target, top) };
}

async function makeFileMountPoint(target: string): Promise<CreatedMountPoint> {
  const parent = path.dirname(target);
  const top = await makeDirectory(parent);
  if (await pathExists(target)) return { remove: () => removeCreatedDirectories(parent, top) };
  try {
    await writeFile(target, '', { flag: 'wx' });
  } catch (err) {
    await removeCreatedDirectories(parent, top);
    throw storageError(`create mount point file ${target}`, err);
  }
  return {
    remove: async () => {
      await unlink(target).catch(() => undefined);
      await removeCreatedDirectories(parent, top);
    },
  };
}

/**
 * Unmounts `target`. Already unmounted is fine; a busy mount (a process still inside) is
 * detached so that the caller's cleanup still completes.
 */
export function unmountStorage(target: string, log: Logger): void {
  try {
    umount(target, 0);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'EINVAL' || errno === 'ENOENT') return;
    if (errno === 'EBUSY') {
      log.warn('storage busy, detaching', { mountPoint: target });
      try {
        umount(target, MNT_DETACH);
        return;
      } catch (detachErr) {
        throw storageError(`unmount ${target} (detach)`, detachErr);
      }
    }
    throw storageError(`unmount ${target}`, err);
  }
}
