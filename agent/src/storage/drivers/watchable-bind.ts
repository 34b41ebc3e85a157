// watchable-bind: a file or directory from the shared filesystem (ConfigMaps, Secrets) made
// visible at the mount point.
//
// Kata copies these into a tmpfs and polls the source for changes, because inotify does not
// cross virtio-fs. We bind mount instead: a bind of a directory on the shared filesystem sees
// the host's updates directly (including Kubernetes' atomic "..data" symlink swap), with no
// copy and no polling. The known gap: a bind of a single FILE keeps the inode it was given, so
// a host update that replaces the file by rename is not seen until the container restarts.
import { stat } from 'node:fs/promises';
import type { StorageDriver } from '../driver';
import { invalidStorage, storageError } from '../errors';
import { mountStorage } from '../mount-storage';

export const watchableBindDriver: StorageDriver = {
  async add(storage, ctx) {
    const what = `bind ${storage.source} at ${storage.mount_point}`;
    if (!storage.source.startsWith('/') || storage.source.split('/').includes('..')) {
      throw invalidStorage(`${what}: source must be an absolute path without ".."`);
    }
    let isFile: boolean;
    try {
      isFile = !(await stat(storage.source)).isDirectory();
    } catch (err) {
      throw storageError(`${what}: bind source`, err);
    }
    const options = storage.options.filter((o) => o !== 'bind' && o !== 'rbind');
    return mountStorage(
      {
        driver: 'watchable-bind',
        source: storage.source,
        fstype: '',
        options: ['rbind', ...options],
        mountPoint: storage.mount_point,
        mountPointIsFile: isFile,
      },
      ctx.log,
      ctx.signal,
    );
  },
};
