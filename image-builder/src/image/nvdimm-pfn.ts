// The NVDIMM PFN info block (struct nd_pfn_sb, linux drivers/nvdimm/pfn.h) that makes the guest
// kernel treat an nvdimm's raw namespace as an fsdax device: the block lives at byte 4096 of the
// namespace, is 4096 bytes long, and its last 8 bytes hold a fletcher64 checksum of the block
// computed with that field zeroed (nd_sb_checksum in drivers/nvdimm/claim.c).

export const PFN_INFO_OFFSET = 4096;
export const PFN_INFO_BYTES = 4096;
export const PFN_SIGNATURE = Buffer.from('NVDIMM_PFN_INFO\0', 'latin1');
/** enum nd_pfn_mode in drivers/nvdimm/nd.h: NONE=0, RAM=1 (memmap in RAM), PMEM=2. */
export const PFN_MODE_RAM = 1;
export const PFN_MODE_PMEM = 2;

/** Byte offsets of struct nd_pfn_sb's fields. */
export const PFN_FIELD = {
  signature: 0,
  uuid: 16,
  parentUuid: 32,
  flags: 48,
  versionMajor: 52,
  versionMinor: 54,
  dataoff: 56,
  npfns: 64,
  mode: 72,
  startPad: 76,
  endTrunc: 80,
  align: 84,
  pageSize: 88,
  pageStructSize: 92,
  padding: 94, // 3994 bytes that minor version 3 guarantees to be zero
  checksum: 4088,
} as const;

export interface PfnInfo {
  uuid: Buffer;
  /** Offset of the data (the rootfs disk) from the namespace start. */
  dataOffset: number;
  /** Size of the whole namespace, i.e. of the image file. */
  namespaceBytes: number;
  align: number;
  pageSize?: number;
}

/** Encodes version 1.4 of the block, as the 6.1 kernel's nd_pfn_init() writes it. */
export function encodePfnInfo(info: PfnInfo): Buffer {
  const pageSize = info.pageSize ?? 4096;
  if (info.uuid.length !== 16) throw new Error('PFN info block: uuid must be 16 bytes');
  if (info.dataOffset % info.align || info.namespaceBytes % info.align) {
    throw new Error(`PFN info block: data offset ${info.dataOffset} and size ${info.namespaceBytes} must be multiples of align ${info.align}`);
  }
  const sb = Buffer.alloc(PFN_INFO_BYTES);
  PFN_SIGNATURE.copy(sb, PFN_FIELD.signature);
  info.uuid.copy(sb, PFN_FIELD.uuid);
  // parent_uuid stays zero: QEMU's nvdimm has no labels, so the kernel compares it with uuid_null.
  sb.writeUInt32LE(0, PFN_FIELD.flags);
  sb.writeUInt16LE(1, PFN_FIELD.versionMajor);
  sb.writeUInt16LE(4, PFN_FIELD.versionMinor);
  sb.writeBigUInt64LE(BigInt(info.dataOffset), PFN_FIELD.dataoff);
  sb.writeBigUInt64LE(BigInt((info.namespaceBytes - info.dataOffset) / pageSize), PFN_FIELD.npfns);
  sb.writeUInt32LE(PFN_MODE_RAM, PFN_FIELD.mode);
  sb.writeUInt32LE(0, PFN_FIELD.startPad);
  sb.writeUInt32LE(0, PFN_FIELD.endTrunc);
  sb.writeUInt32LE(info.align, PFN_FIELD.align);
  sb.writeUInt32LE(pageSize, PFN_FIELD.pageSize);
  sb.writeUInt16LE(64, PFN_FIELD.pageStructSize); // MAX_STRUCT_PAGE_SIZE
  sb.writeBigUInt64LE(fletcher64(sb), PFN_FIELD.checksum);
  return sb;
}

/**
 * nd_fletcher64 over little-endian 32-bit words: a 32-bit running sum and a 64-bit sum of sums,
 * returned as (sum-of-sums << 32) | sum. The checksum field must already be zero.
 */
export function fletcher64(block: Buffer): bigint {
  let lo = 0;
  let hi = 0; // only its low 32 bits survive the final shift
  for (let i = 0; i + 4 <= block.length; i += 4) {
    lo = (lo + block.readUInt32LE(i)) >>> 0;
    hi = (hi + lo) >>> 0;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}
