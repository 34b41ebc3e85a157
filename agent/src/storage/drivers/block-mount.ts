// Mounting a block device once found; shared by the virtio-blk, mmio, SCSI and nvdimm drivers.
import type { CheckedStorage, DriverContext, StorageHandle } from '../driver';
import { invalidStorage } from '../errors';
import { mountStorage } from '../mount-storage';

export async function mountBlockDevice(driver: string, device: string, storage: CheckedStorage, ctx: DriverContext): Promise<StorageHandle> {
  // mount(2) does not probe filesystem types; the runtime always names one.
  if (!storage.fstype) throw invalidStorage(`mount ${driver} ${device} at ${storage.mount_point}: no fstype given`);
  ctx.log.debug('block device found', { driver, source: storage.source, device });
  return mountStorage(
    { driver, source: device, fstype: storage.fstype, options: storage.options, mountPoint: storage.mount_point, fsGroup: storage.fs_group },
    ctx.log,
    ctx.signal,
  );
}
