import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { CpioMember } from '../cpio/newc-writer';
import type { Progress } from '../progress/progress';
import { writeAtomically } from '../rootfs/atomic-file';
import type { InitrdCompression } from './compressed-output';
import { writeCompressedArchive } from './write-archive';

/**
 * Files at least this big go into a separate, cached archive segment. The kernel unpacks an
 * initramfs made of several compressed cpio archives one after another, so the Node binary
 * (~86 MB, minutes at zstd -19) is compressed once and reused while the agent bundle changes.
 */
export const BULK_FILE_BYTES = 4 << 20;

type FileMember = Extract<CpioMember, { kind: 'file' }>;

export function isBulkFile(member: CpioMember): member is FileMember {
  return member.kind === 'file' && member.size >= BULK_FILE_BYTES;
}

/**
 * Returns the compressed archive of the big files, from the cache when the same files (by
 * content), compression, level and mtime were packed before. Its inode numbers start at 1, so
 * the segment depends on nothing else in the tree.
 */
export async function bulkSegment(
  files: FileMember[], compression: InitrdCompression, level: number, mtime: number, cacheDir: string, progress: Progress,
): Promise<{ path: string; uncompressedBytes: number; cached: boolean }> {
  const key = createHash('sha256').update(JSON.stringify({ format: 'kata-initrd-bulk-1', compression, level, mtime }));
  for (const f of files) {
    // Appended only for hard links, so the keys of segments cached before stay valid.
    const link = f.hardLink ? `\0link=${f.hardLink.group}/${f.hardLink.names}` : '';
    key.update(`${f.name}\0${f.mode}\0${f.size}\0${await sha256Of(f.hostPath)}${link}\n`);
  }
  const file = path.join(cacheDir, 'initrd-segments', `${key.digest('hex').slice(0, 32)}.${compression}`);
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isFile()) {
    progress(`initrd: reusing the compressed segment of ${files.length} large files (${path.basename(file)})`);
    return { path: file, uncompressedBytes: cpioSizeOf(files), cached: true };
  }
  await mkdir(path.dirname(file), { recursive: true });
  progress(`initrd: compressing ${files.length} large files once (${files.map((f) => f.name).join(', ')}); later builds reuse them`);
  const written = await writeAtomically(file, (temporaryPath) => writeCompressedArchive(temporaryPath, files, 1, compression, level, mtime));
  return { path: file, uncompressedBytes: written, cached: false };
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * Size of the uncompressed segment, computed without re-reading it: headers, names, data (once
 * per hard-linked file, with its last name), padding.
 */
function cpioSizeOf(files: FileMember[]): number {
  const pad4 = (n: number) => Math.ceil(n / 4) * 4;
  const namesLeft = new Map<string, number>();
  let total = 0;
  for (const f of files) {
    total += pad4(110 + Buffer.byteLength(f.name) + 1);
    const link = f.hardLink;
    const left = link ? (namesLeft.get(link.group) ?? link.names) - 1 : 0;
    if (link) namesLeft.set(link.group, left);
    if (left === 0) total += pad4(f.size);
  }
  return total + pad4(110 + 'TRAILER!!!'.length + 1);
}
