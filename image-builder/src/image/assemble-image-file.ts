import { open } from 'node:fs/promises';
import { encodeMbr } from './mbr';
import { DAX_ALIGN_BYTES, DAX_HEADER_BYTES, PARTITION_OFFSET_IN_DISK, type LayoutPlan } from './disk-layout';
import { PFN_INFO_OFFSET, encodePfnInfo } from './nvdimm-pfn';

const COPY_CHUNK = 4 << 20;

export interface ImageIdentity {
  /** 16 bytes; the PFN block's uuid and the MBR disk signatures derive from it. */
  uuid: Buffer;
}

/**
 * Writes the partition tables / DAX header for `plan` and copies the filesystem in at its offset.
 * All-zero chunks are skipped so the file stays sparse (it was sized with truncate first).
 */
export async function assembleImageFile(file: string, filesystemFile: string, plan: LayoutPlan, identity: ImageIdentity): Promise<void> {
  const out = await open(file, 'w');
  try {
    await out.truncate(plan.totalBytes);
    const diskSignature = identity.uuid.readUInt32LE(0);
    if (plan.layout === 'dax') {
      await out.write(encodeMbr({ startBytes: plan.filesystemOffset, sizeBytes: plan.partitionBytes }, diskSignature), 0, 512, 0);
      const pfn = encodePfnInfo({ uuid: identity.uuid, dataOffset: DAX_HEADER_BYTES, namespaceBytes: plan.totalBytes, align: DAX_ALIGN_BYTES });
      await out.write(pfn, 0, pfn.length, PFN_INFO_OFFSET);
      const innerMbr = encodeMbr({ startBytes: PARTITION_OFFSET_IN_DISK, sizeBytes: plan.partitionBytes }, diskSignature ^ 0x1);
      await out.write(innerMbr, 0, 512, DAX_HEADER_BYTES);
    } else if (plan.layout === 'disk') {
      await out.write(encodeMbr({ startBytes: plan.filesystemOffset, sizeBytes: plan.partitionBytes }, diskSignature), 0, 512, 0);
    }
    await copyInto(out, filesystemFile, plan.filesystemOffset);
    await out.sync();
  } finally {
    await out.close();
  }
}

async function copyInto(out: Awaited<ReturnType<typeof open>>, source: string, offset: number): Promise<void> {
  const input = await open(source, 'r');
  try {
    const buffer = Buffer.alloc(COPY_CHUNK);
    for (let position = 0; ; ) {
      const { bytesRead } = await input.read(buffer, 0, COPY_CHUNK, position);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      if (!isAllZero(chunk)) await out.write(chunk, 0, bytesRead, offset + position);
      position += bytesRead;
    }
  } finally {
    await input.close();
  }
}

function isAllZero(chunk: Buffer): boolean {
  for (let i = 0; i < chunk.length; i += 8) {
    if (i + 8 <= chunk.length ? chunk.readBigUInt64LE(i) !== 0n : chunk.subarray(i).some((b) => b !== 0)) return false;
  }
  return true;
}
