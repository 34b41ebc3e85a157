// A classic MBR (DOS) partition table with a single primary partition: what Kata's image
// layout uses both in its 2 MiB DAX header and at the start of the rootfs disk proper.

export const SECTOR_BYTES = 512;
export const LINUX_PARTITION_TYPE = 0x83;

export interface MbrPartition {
  /** Byte offset of the partition start; must be sector aligned. */
  startBytes: number;
  sizeBytes: number;
  type?: number;
}

/** 512-byte MBR: disk signature at 440, entry 1 at 446, boot signature 55 AA at 510. */
export function encodeMbr(partition: MbrPartition, diskSignature: number): Buffer {
  if (partition.startBytes % SECTOR_BYTES || partition.sizeBytes % SECTOR_BYTES) {
    throw new Error(`MBR partition at ${partition.startBytes} size ${partition.sizeBytes}: not sector aligned`);
  }
  const firstLba = partition.startBytes / SECTOR_BYTES;
  const sectors = partition.sizeBytes / SECTOR_BYTES;
  if (firstLba + sectors > 0xffffffff) throw new Error('MBR partition: beyond 2 TiB, needs GPT');
  const mbr = Buffer.alloc(SECTOR_BYTES);
  mbr.writeUInt32LE(diskSignature >>> 0, 440);
  const entry = 446;
  mbr[entry] = 0x00; // not bootable: the kernel is booted directly
  encodeChs(firstLba).copy(mbr, entry + 1);
  mbr[entry + 4] = partition.type ?? LINUX_PARTITION_TYPE;
  encodeChs(firstLba + sectors - 1).copy(mbr, entry + 5);
  mbr.writeUInt32LE(firstLba, entry + 8);
  mbr.writeUInt32LE(sectors, entry + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

/** CHS with the usual 255 heads x 63 sectors geometry, saturating at 1023/254/63 like fdisk. */
function encodeChs(lba: number): Buffer {
  const headsPerCylinder = 255;
  const sectorsPerTrack = 63;
  let cylinder = Math.floor(lba / (headsPerCylinder * sectorsPerTrack));
  let head = Math.floor(lba / sectorsPerTrack) % headsPerCylinder;
  let sector = (lba % sectorsPerTrack) + 1;
  if (cylinder > 1023) { cylinder = 1023; head = 254; sector = 63; }
  return Buffer.from([head, ((cylinder >> 2) & 0xc0) | sector, cylinder & 0xff]);
}
