// For host tests, which have no virtiofsd: a stand-in for the virtio-fs driver that bind mounts
// a prepared host directory wherever the request mounts the shared filesystem. Every test uses
// this one, e.g. new StorageManager({ ..., drivers: { 'virtio-fs': bindDirectoryAsSharedFs(dir) } }).
import path from 'node:path';
import type { StorageDriver } from '../../agent/src/storage/driver';
import { invalidStorage } from '../../agent/src/storage/errors';
import { mountStorage } from '../../agent/src/storage/mount-storage';

export function bindDirectoryAsSharedFs(hostDir: string): StorageDriver {
  if (!path.isAbsolute(hostDir)) throw invalidStorage(`shared fs stand-in: "${hostDir}" is not absolute`);
  return {
    async add(storage, ctx) {
      // Keep "ro" and friends from the request; the tag itself has no meaning here.
      const options = storage.options.filter((o) => o !== 'bind' && o !== 'rbind');
      return mountStorage(
        {
          driver: `virtio-fs (stand-in bind of ${hostDir} for tag ${storage.source})`,
          source: hostDir,
          fstype: '',
          options: ['rbind', ...options],
          mountPoint: storage.mount_point,
          fsGroup: storage.fs_group,
        },
        ctx.log,
        ctx.signal,
      );
    },
  };
}
