// image_guest_pull: the guest pulls the container image itself (confidential containers).
// This agent does not pull images; say so clearly instead of failing somewhere later.
import { Code, RpcError } from '../../ttrpc/status';
import type { StorageDriver } from '../driver';

export const imageGuestPullDriver: StorageDriver = {
  async add(storage) {
    throw new RpcError(
      Code.UNIMPLEMENTED,
      `storage driver image_guest_pull (image ${storage.source || '?'} at ${storage.mount_point}): pulling images in the guest is not supported by this agent; share the rootfs from the host (virtio-fs or a block device)`,
    );
  },
};
