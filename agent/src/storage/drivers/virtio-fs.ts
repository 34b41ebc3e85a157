// virtio-fs: the host shares a directory under a tag (Kata's is "kataShared").
import type { StorageDriver } from '../driver';
import { invalidStorage } from '../errors';
import { mountAt } from '../mountinfo';
import { mountStorage } from '../mount-storage';

export const virtioFsDriver: StorageDriver = {
  async add(storage, ctx) {
    if (!storage.source) throw invalidStorage(`mount virtio-fs at ${storage.mount_point}: no tag given as source`);
    const fstype = storage.fstype || 'virtiofs';
    // As in Kata: a guest whose init already mounted the share there keeps that mount, and it is
    // not ours to unmount later.
    const existing = await mountAt(storage.mount_point).catch(() => undefined);
    if (existing && existing.fstype === fstype && existing.source === storage.source) {
      ctx.log.info('virtio-fs share already mounted by the guest, using it', { tag: storage.source, mountPoint: storage.mount_point });
      return { mountPoint: storage.mount_point, release: async () => undefined };
    }
    return mountStorage(
      { driver: 'virtio-fs', source: storage.source, fstype, options: storage.options, mountPoint: storage.mount_point, fsGroup: storage.fs_group },
      ctx.log,
      ctx.signal,
    );
  },
};
