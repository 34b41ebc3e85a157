// virtio-scsi disks: the source is Kata's "<scsi id>:<lun>" address.
import { waitForScsiDisk, waitOptionsFrom } from '../block-devices';
import type { StorageDriver } from '../driver';
import { mountBlockDevice } from './block-mount';

export const scsiDriver: StorageDriver = {
  async add(storage, ctx) {
    const device = await waitForScsiDisk(storage.source, waitOptionsFrom(ctx));
    return mountBlockDevice('scsi', device, storage, ctx);
  },
};
