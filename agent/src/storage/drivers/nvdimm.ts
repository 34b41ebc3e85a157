// NVDIMM / virtio-pmem: the source is /dev/pmemN; "dax" among the options maps the file
// contents straight from host memory (passed to the filesystem as data).
import { waitForDevNode, waitOptionsFrom } from '../block-devices';
import type { StorageDriver } from '../driver';
import { mountBlockDevice } from './block-mount';

export const nvdimmDriver: StorageDriver = {
  async add(storage, ctx) {
    const device = await waitForDevNode(storage.source, waitOptionsFrom(ctx));
    return mountBlockDevice('nvdimm', device, storage, ctx);
  },
};
