// The storage drivers by the names the Kata runtime puts in Storage.driver.
import type { StorageDriver } from '../driver';
import { ephemeralDriver } from './ephemeral';
import { imageGuestPullDriver } from './image-guest-pull';
import { localDriver } from './local';
import { mmioBlkDriver } from './mmio-blk';
import { ninePDriver } from './nine-p';
import { nvdimmDriver } from './nvdimm';
import { overlayfsDriver } from './overlayfs';
import { scsiDriver } from './scsi';
import { virtioBlkDriver } from './virtio-blk';
import { virtioFsDriver } from './virtio-fs';
import { watchableBindDriver } from './watchable-bind';

/** Drivers that only answer UNIMPLEMENTED: known by name, not advertised in GetGuestDetails. */
export const REFUSING_DRIVERS = new Set(['image_guest_pull']);

export function defaultDrivers(): Record<string, StorageDriver> {
  return {
    'virtio-fs': virtioFsDriver,
    '9p': ninePDriver,
    blk: virtioBlkDriver,
    'virtio-blk': virtioBlkDriver,
    mmioblk: mmioBlkDriver,
    scsi: scsiDriver,
    nvdimm: nvdimmDriver,
    overlayfs: overlayfsDriver,
    ephemeral: ephemeralDriver,
    local: localDriver,
    'watchable-bind': watchableBindDriver,
    image_guest_pull: imageGuestPullDriver,
  };
}
