// virtio-blk over MMIO (Firecracker): the source is the /dev path the disk gets.
import { waitForDevNode, waitOptionsFrom } from '../block-devices';
import type { StorageDriver } from '../driver';
import { mountBlockDevice } from './block-mount';

export const mmioBlkDriver: StorageDriver = {
  async add(storage, ctx) {
    const device = await waitForDevNode(storage.source, waitOptionsFrom(ctx));
    return mountBlockDevice('mmioblk', device, storage, ctx);
  },
};
