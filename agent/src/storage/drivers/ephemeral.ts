// Ephemeral volumes: a tmpfs at the mount point (Kubernetes emptyDir with medium Memory, and the
// sandbox's /dev/shm: source "shm", options like "size=67108864", "mode=1777"), or hugetlbfs
// for hugepage volumes.
import type { StorageDriver } from '../driver';
import { invalidStorage } from '../errors';
import { type MountOptions, parseMountOptions } from '../mount-options';
import { mountStorage } from '../mount-storage';
import { giveDirectoryToGroup } from './group-owned-dir';
import { reserveHugepages } from './hugepages';

export const ephemeralDriver: StorageDriver = {
  async add(storage, ctx) {
    const fstype = storage.fstype || 'tmpfs';
    let parsed: MountOptions;
    try {
      parsed = parseMountOptions(storage.options);
    } catch (err) {
      throw invalidStorage(`mount ephemeral at ${storage.mount_point}: ${(err as Error).message}`);
    }
    if (fstype === 'hugetlbfs') await reserveHugepages(ctx.sysRoot, storage.options, storage.mount_point);
    const handle = await mountStorage(
      { driver: 'ephemeral', source: storage.source || fstype, fstype, options: storage.options, parsed, mountPoint: storage.mount_point, fsGroup: storage.fs_group },
      ctx.log,
      ctx.signal,
    );
    if (parsed.fsGid !== undefined) {
      try {
        await giveDirectoryToGroup(storage.mount_point, parsed.fsGid);
      } catch (err) {
        await handle.release();
        throw err;
      }
    }
    return handle;
  },
};
