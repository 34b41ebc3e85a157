// 9p over virtio (older runtimes' shared directory): the source is the mount tag.
import type { StorageDriver } from '../driver';
import { invalidStorage } from '../errors';
import { optionValue } from '../mount-options';
import { mountStorage } from '../mount-storage';

export const ninePDriver: StorageDriver = {
  async add(storage, ctx) {
    if (!storage.source) throw invalidStorage(`mount 9p at ${storage.mount_point}: no tag given as source`);
    const options = [...storage.options];
    // The runtime normally sends both; without them the kernel would try a network transport.
    if (optionValue(options, 'trans') === undefined) options.push('trans=virtio');
    if (optionValue(options, 'version') === undefined) options.push('version=9p2000.L');
    return mountStorage(
      { driver: '9p', source: storage.source, fstype: storage.fstype || '9p', options, mountPoint: storage.mount_point, fsGroup: storage.fs_group },
      ctx.log,
      ctx.signal,
    );
  },
};
