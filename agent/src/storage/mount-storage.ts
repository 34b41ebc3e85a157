// The common path of every mounting driver: check options, create the mount point, mount,
// apply flags a bind mount only takes on remount, propagation, fs_group; and on any failure
// undo all of it. The handle it returns unmounts and removes what it created. Every syscall runs
// off the JS thread and the whole is bounded by the call's AbortSignal (see mountStorage).
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger';
import { MNT_DETACH, MS_BIND, MS_REC, MS_REMOUNT, MS_RDONLY } from '../native/constants';
import { statPath } from '../native/fs-stat';
import { mount, umount } from '../native/mount';
import type { Storage } from '../proto/messages.generated';
import { settledWithin } from '../settled-within';
import { Code, RpcError } from '../ttrpc/status';
import type { StorageHandle } from './driver';
import { abortedBy, untilAborted } from './call-deadline';
import { errnoOf, invalidStorage, storageError } from './errors';
import { applyFsGroup } from './fs-group';
import { type MountOptions, parseMountOptions } from './mount-options';
import { makeDirectory, pathExists, removeCreatedDirectories } from './mount-point';

export interface MountRequest {
  /** Storage driver name, for messages ("virtio-fs"). */
  driver: string;
  /** What mount(2) gets as source: a device path, a virtio-fs tag, "tmpfs", a directory ... */
  source: string;
  fstype: string;
  options: readonly string[];
  mountPoint: string;
  fsGroup?: Storage['fs_group'];
  /** Bind mounts of a file need a file, not a directory, as mount point. */
  mountPointIsFile?: boolean;
  /** Option parsing already done by the driver (e.g. with defaults added). */
  parsed?: MountOptions;
}

export function describeMount(req: Pick<MountRequest, 'driver' | 'source' | 'mountPoint'>): string {
  return `mount ${req.driver} ${req.source} at ${req.mountPoint}`;
}

/**
 * Mounts `req`, bounded by `signal` (the call's deadline). mount(2) runs off the JS thread, so a
 * share whose server stalls only leaves this pending; when `signal` aborts first, this rejects
 * at once (DEADLINE_EXCEEDED, or CANCELLED) and the mount, should it still complete, is undone
 * (detached, its mount point removed) as soon as it does.
 */
export async function mountStorage(req: MountRequest, log: Logger, signal?: AbortSignal): Promise<StorageHandle> {
  const what = describeMount(req);
  let opts: MountOptions;
  try {
    opts = req.parsed ?? parseMountOptions(req.options);
  } catch (err) {
    throw invalidStorage(`${what}: ${(err as Error).message}`);
  }
  if (signal?.aborted) throw abortedBy(what, signal.reason);
  const earlier = abandoned.get(req.mountPoint);
  if (earlier) {
    log.warn('an earlier mount at this mount point has not returned; waiting for it', { mountPoint: req.mountPoint });
    await untilAborted(earlier, signal, `${what}: an earlier mount there has not returned yet`);
  }
  const attempt = mountSteps(req, opts, what, log, signal);
  try {
    return (await untilAborted(attempt, signal, what)).handle;
  } catch (err) {
    if (signal?.aborted) abandon(req.mountPoint, attempt, log);
    throw err;
  }
}

/** Mount points whose mountStorage gave up before its syscalls returned: settles once undone. */
const abandoned = new Map<string, Promise<void>>();

/** Whether a mount given up at its deadline is still to return and be undone (tests wait on it). */
export function abandonedMount(mountPoint: string): Promise<void> | undefined {
  return abandoned.get(mountPoint);
}

// The steps of an abandoned attempt keep going until one returns; whatever they mounted is then
// detached (a lazy unmount: it cannot wait on the stalled server) and the mount point removed.
function abandon(mountPoint: string, attempt: Promise<Mounted>, log: Logger): void {
  const undone = attempt.then(
    async (mounted) => {
      log.warn('storage mount completed after its call gave up; detaching it', { mountPoint });
      try {
        await unmountStorage(mountPoint, log, { detach: true });
        await mounted.created.remove();
      } catch (err) {
        log.error('could not undo a storage mount that completed after its call gave up', { mountPoint, error: err });
      }
    },
    // mountSteps saw the abort once its syscall returned, and undid what it had done itself.
    (err: unknown) => log.info('storage mount given up at its deadline has returned and is undone', { mountPoint, error: err }),
  );
  abandoned.set(mountPoint, undone);
  void undone.then(() => {
    if (abandoned.get(mountPoint) === undone) abandoned.delete(mountPoint);
  });
}

interface Mounted {
  handle: StorageHandle;
  created: CreatedMountPoint;
}

// Each step awaits its syscall; once `signal` has aborted no further step starts, and a failure
// undoes what the earlier ones did (detached when the call has given up: nothing may wait then).
async function mountSteps(req: MountRequest, opts: MountOptions, what: string, log: Logger, signal: AbortSignal | undefined): Promise<Mounted> {
  const stopIfAborted = (): void => {
    if (signal?.aborted) throw abortedBy(what, signal.reason);
  };
  if (opts.flags & MS_BIND) await checkBindSource(req.source, what);
  const created = req.mountPointIsFile ? await makeFileMountPoint(req.mountPoint) : await makeDirectoryMountPoint(req.mountPoint);
  let mounted = false;
  try {
    stopIfAborted();
    try {
      await mount(req.source, req.mountPoint, req.fstype || null, opts.flags, opts.data || null);
    } catch (err) {
      throw storageError(what, err);
    }
    mounted = true;
    stopIfAborted();
    if (opts.flags & MS_BIND) await remountBindWithFlags(req, opts.flags);
    for (const propagation of opts.propagation) {
      stopIfAborted();
      try {
        await mount(null, req.mountPoint, null, propagation, null);
      } catch (err) {
        throw storageError(`set propagation 0x${propagation.toString(16)} on ${req.mountPoint}`, err);
      }
    }
    stopIfAborted();
    if (req.fsGroup) await applyFsGroup(req.mountPoint, req.fsGroup, (opts.flags & MS_RDONLY) !== 0);
  } catch (err) {
    if (mounted) {
      try {
        await unmountStorage(req.mountPoint, log, { detach: signal?.aborted });
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
    created,
    handle: {
      mountPoint: req.mountPoint,
      release: async () => {
        await unmountStorage(req.mountPoint, log);
        await created.remove();
      },
    },
  };
}

// stat(2) on a thread of its own: a bind source on a stalled share must not hold a threadpool thread.
async function checkBindSource(source: string, what: string): Promise<void> {
  try {
    await statPath(source);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT' || errno === 'ENOTDIR') throw new RpcError(Code.NOT_FOUND, `${what}: bind source ${source} does not exist`);
    throw storageError(`${what}: bind source ${source}`, err);
  }
}

// A bind mount ignores ro/nosuid/nodev/noexec on the first call; they take a remount.
async function remountBindWithFlags(req: MountRequest, flags: number): Promise<void> {
  const extra = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (extra === 0) return;
  try {
    await mount(null, req.mountPoint, null, MS_REMOUNT | MS_BIND | extra, null);
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

/** How long a plain unmount may take before it is detached instead (see unmountStorage). */
export const UNMOUNT_WAIT_MS = 5_000;

/**
 * Unmounts `target`. Already unmounted is fine; a busy mount (a process still inside) is
 * detached so that the caller's cleanup still completes. `detach` goes straight to that. An
 * unmount that has not returned after `waitMs` is detached too: virtio-fs sends FUSE_DESTROY at
 * unmount and waits for it, so a share whose server stopped would hold RemoveContainer or
 * DestroySandbox (and the power-off after it) for ever. The stuck call stays on its own thread.
 */
export async function unmountStorage(target: string, log: Logger, opts: { detach?: boolean; waitMs?: number } = {}): Promise<void> {
  try {
    if (opts.detach) await umount(target, MNT_DETACH);
    else await unmountWithin(target, opts.waitMs ?? UNMOUNT_WAIT_MS, log);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'EINVAL' || errno === 'ENOENT') return;
    if (errno === 'EBUSY' && !opts.detach) {
      log.warn('storage busy, detaching', { mountPoint: target });
      try {
        await umount(target, MNT_DETACH);
        return;
      } catch (detachErr) {
        throw storageError(`unmount ${target} (detach)`, detachErr);
      }
    }
    throw storageError(opts.detach ? `unmount ${target} (detach)` : `unmount ${target}`, err);
  }
}

async function unmountWithin(target: string, waitMs: number, log: Logger): Promise<void> {
  if ((await settledWithin(umount(target, 0), waitMs)) !== 'slow') return;
  log.warn('unmount did not return: its filesystem does not answer; detaching', { mountPoint: target, waitedMs: waitMs });
  await umount(target, MNT_DETACH);
}
