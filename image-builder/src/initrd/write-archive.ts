import { NewcArchiveWriter, type CpioMember } from '../cpio/newc-writer';
import { openCompressedOutput, type InitrdCompression } from './compressed-output';

/** Writes one complete (trailer-terminated) compressed cpio archive; returns its uncompressed size. */
export async function writeCompressedArchive(
  file: string, members: CpioMember[], firstInode: number, compression: InitrdCompression, level: number, mtime: number,
): Promise<number> {
  const out = openCompressedOutput(file, compression, level);
  const writer = new NewcArchiveWriter((chunk) => out.write(chunk), mtime, firstInode);
  try {
    for (const member of members) await writer.add(member);
    await writer.finish();
  } catch (e) {
    await out.close().catch(() => undefined);
    throw e;
  }
  await out.close();
  return out.uncompressedBytes;
}
