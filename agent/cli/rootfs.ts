// Where a container's root filesystem comes from, as a Kata runtime tells the agent: the
// Storage to mount (if any) in CreateContainer.storages, and spec.root.path pointing into it.
//  - block device (virtio-blk): mounted at <shared>/<cid>, which is the rootfs, as Kata's
//    runtime does for a devicemapper-style snapshot (no "rootfs" dir on the device);
//    --rootfs-subdir picks a directory inside the filesystem instead;
//  - virtio-fs: the pod's kataShared share, rootfs at <shared>/<cid>/rootfs (the runtime put it
//    there on the host); the share's storage is added so it is mounted even without a sandbox one;
//  - 9p: a tag exporting the rootfs itself, mounted at <shared>/<cid>/rootfs;
//  - a path the agent can see as it is (an agent on the same machine, or a path in the guest).
import path from 'node:path';
import { SHARED_CONTAINERS, SHARED_FS_TAG, sharedRootfs } from '../src/paths';
import type { StorageInit } from '../src/proto/messages.generated';
import { UsageError } from './command';

export interface RootfsOptions {
  rootfs?: string;
  'rootfs-blk'?: string;
  'rootfs-9p'?: string;
  'rootfs-virtiofs'?: boolean;
  'rootfs-subdir'?: string;
}

export const ROOTFS_OPTIONS = {
  rootfs: { type: 'string' },
  'rootfs-blk': { type: 'string' },
  'rootfs-9p': { type: 'string' },
  'rootfs-virtiofs': { type: 'boolean' },
  'rootfs-subdir': { type: 'string' },
} as const;

export const ROOTFS_SYNOPSIS = '[--rootfs PATH | --rootfs-blk PCI_PATH[:FSTYPE] [--rootfs-subdir DIR] | --rootfs-9p TAG | --rootfs-virtiofs]';

export interface RootfsPlan {
  storages: StorageInit[];
  rootPath: string;
}

/**
 * `bundleRoot` is the bundle's root.path resolved against the bundle directory: the rootfs
 * when no option says otherwise (the agent runs on this machine and sees the same path).
 */
export function planRootfs(containerId: string, opts: RootfsOptions, bundleRoot: string | undefined): RootfsPlan {
  const chosen = (['rootfs', 'rootfs-blk', 'rootfs-9p', 'rootfs-virtiofs'] as const).filter((k) => opts[k] !== undefined && opts[k] !== false);
  if (chosen.length > 1) throw new UsageError(`give one rootfs source, not ${chosen.map((k) => `--${k}`).join(' and ')}`);
  if (opts['rootfs-subdir'] !== undefined && !opts['rootfs-blk']) throw new UsageError('--rootfs-subdir goes with --rootfs-blk');
  const blk = opts['rootfs-blk'];
  if (blk !== undefined) {
    const [pciPath, fstype = 'ext4'] = blk.split(':');
    if (!pciPath || !/^[0-9a-fA-F]{1,2}(\.[0-7])?(\/[0-9a-fA-F]{1,2}(\.[0-7])?)*$/.test(pciPath)) {
      throw new UsageError(`--rootfs-blk "${blk}": expected a PCI path such as 02/00 (slot[.function] per bus), optionally :FSTYPE`);
    }
    const mountPoint = `${SHARED_CONTAINERS}/${containerId}`;
    const subdir = opts['rootfs-subdir'] ?? '.';
    if (path.posix.isAbsolute(subdir) || subdir.split('/').includes('..')) throw new UsageError(`--rootfs-subdir "${subdir}": a relative path inside the device's filesystem, without ".."`);
    return {
      // xfs refuses a second mount of the same UUID (snapshots of one image) without nouuid.
      storages: [{ driver: 'blk', source: pciPath, fstype, options: fstype === 'xfs' ? ['nouuid'] : [], mount_point: mountPoint }],
      rootPath: path.posix.join(mountPoint, subdir),
    };
  }
  const tag = opts['rootfs-9p'];
  if (tag !== undefined) {
    if (!tag) throw new UsageError('--rootfs-9p needs a tag');
    const mountPoint = sharedRootfs(containerId);
    return { storages: [{ driver: '9p', source: tag, fstype: '9p', options: ['nodev'], mount_point: mountPoint }], rootPath: mountPoint };
  }
  if (opts['rootfs-virtiofs']) {
    return {
      storages: [{ driver: 'virtio-fs', source: SHARED_FS_TAG, fstype: 'virtiofs', mount_point: SHARED_CONTAINERS }],
      rootPath: sharedRootfs(containerId),
    };
  }
  const given = opts.rootfs ?? bundleRoot;
  if (!given) throw new UsageError('no rootfs: give --bundle DIR (its config.json root.path) or one of --rootfs, --rootfs-blk, --rootfs-9p, --rootfs-virtiofs');
  return { storages: [], rootPath: path.resolve(given) };
}
