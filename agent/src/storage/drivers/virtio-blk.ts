// virtio-blk over PCI (drivers "blk" and "virtio-blk"): the source is a PCI path ("02/00") of a
// hot-plugged disk, or a /dev path of a disk that was there at boot.
import { waitForDevNode, waitForVirtioBlkByPciPath, waitOptionsFrom } from '../block-devices';
import type { StorageDriver } from '../driver';
import { mountBlockDevice } from './block-mount';

export const virtioBlkDriver: StorageDriver = {
  async add(storage, ctx) {
    const wait = waitOptionsFrom(ctx);
    const device = storage.source.startsWith('/dev/')
      ? await waitForDevNode(storage.source, wait)
      : await waitForVirtioBlkByPciPath(storage.source, wait);
    return mountBlockDevice('virtio-blk', device, storage, ctx);
  },
};
