// Byte layout of the image Kata's `image = ...` points at, as its osbuilder makes it with DAX:
//
//   [0, 2 MiB)        DAX header: an MBR whose one partition starts at 3 MiB (for virtio-blk,
//                     /dev/vda1), and at 4 KiB the NVDIMM PFN info block whose dataoff = 2 MiB
//   [2 MiB, 3 MiB)    the rootfs disk's own MBR (for nvdimm: the kernel exposes the data after the
//                     header as /dev/pmem0, whose partition 1 at 1 MiB is /dev/pmem0p1)
//   [3 MiB, end)      the filesystem, padded so the whole file is a multiple of 2 MiB (the PFN
//                     align; the kernel refuses a namespace end that is not aligned)

export const MiB = 1 << 20;
export const DAX_HEADER_BYTES = 2 * MiB;
export const DAX_ALIGN_BYTES = 2 * MiB;
/** Where the partition starts inside the rootfs disk (after its MBR), as parted's 1 MiB default. */
export const PARTITION_OFFSET_IN_DISK = 1 * MiB;

export type ImageLayout = 'dax' | 'disk' | 'raw';

export interface LayoutPlan {
  layout: ImageLayout;
  /** Where the filesystem starts in the file. */
  filesystemOffset: number;
  /** Bytes reserved for the filesystem (its size rounded up to the layout's alignment). */
  partitionBytes: number;
  totalBytes: number;
}

export function planLayout(layout: ImageLayout, filesystemBytes: number): LayoutPlan {
  switch (layout) {
    case 'raw':
      return { layout, filesystemOffset: 0, partitionBytes: filesystemBytes, totalBytes: filesystemBytes };
    case 'disk': {
      const partitionBytes = roundUp(filesystemBytes, MiB);
      return { layout, filesystemOffset: PARTITION_OFFSET_IN_DISK, partitionBytes, totalBytes: PARTITION_OFFSET_IN_DISK + partitionBytes };
    }
    case 'dax': {
      const filesystemOffset = DAX_HEADER_BYTES + PARTITION_OFFSET_IN_DISK;
      const totalBytes = roundUp(filesystemOffset + filesystemBytes, DAX_ALIGN_BYTES);
      return { layout, filesystemOffset, partitionBytes: totalBytes - filesystemOffset, totalBytes };
    }
  }
}

function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}
