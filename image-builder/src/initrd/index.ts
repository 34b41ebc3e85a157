import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { CpioMember } from '../cpio/newc-writer';
import { defaultCacheDir } from '../debian/cache-dir';
import { silentProgress, formatBytes, type Progress } from '../progress/progress';
import { writeAtomically } from '../rootfs/atomic-file';
import { walkTree, type TreeEntry } from '../rootfs/walk';
import { sourceDateEpoch } from '../rootfs/source-date-epoch';
import { bulkSegment, isBulkFile } from './bulk-segment';
import type { InitrdCompression } from './compressed-output';
import { groupHardLinks } from './hard-links';
import { writeCompressedArchive } from './write-archive';

export type { InitrdCompression } from './compressed-output';

export interface BuildInitrdOptions {
  /** The assembled rootfs tree (see `buildRootfs`). */
  rootfsDir: string;
  /** The initrd file to write (replaced atomically). */
  output: string;
  /** Default 'zstd' (smallest; the kernel needs CONFIG_RD_ZSTD), 'gzip' is faster to build. */
  compression?: InitrdCompression;
  /** Default 19 for zstd, 9 for gzip. */
  level?: number;
  /** mtime of every member; default $SOURCE_DATE_EPOCH or 0. */
  sourceDateEpoch?: number;
  /**
   * Where the compressed segment of large files (>= 4 MiB: the Node binary) is cached; default
   * ${XDG_CACHE_HOME:-~/.cache}/kata-node-agent. `false`: one single archive, nothing cached.
   */
  segmentCacheDir?: string | false;
  progress?: Progress;
}

export interface InitrdResult {
  path: string;
  /** Size of the written (compressed) file. */
  bytes: number;
  /** Size of the cpio archive(s) before compression. */
  uncompressedBytes: number;
  entries: number;
  compression: InitrdCompression;
  level: number;
  /** 1, or 2 when large files went into their own (cached) archive segment after the first. */
  segments: number;
}

/** Where the kernel opens init's console before /dev is mounted: an initramfs has no devtmpfs yet. */
const CONSOLE_NODE: CpioMember = { kind: 'chardev', name: 'dev/console', mode: 0o600, major: 5, minor: 1 };

/**
 * Packs a rootfs tree into a reproducible newc cpio initrd: the same tree, epoch, compression and
 * level give the same bytes. With the segment cache, the file is two compressed archives back to
 * back (the kernel unpacks them in turn): first everything small (and every directory), then the
 * large files. A file with several names in the tree is stored once (newc hard links); all its
 * names have the same size, so they land in the same segment.
 */
export async function buildInitrd(options: BuildInitrdOptions): Promise<InitrdResult> {
  const compression = options.compression ?? 'zstd';
  const level = options.level ?? (compression === 'gzip' ? 9 : 19);
  const mtime = options.sourceDateEpoch ?? sourceDateEpoch();
  const progress = options.progress ?? silentProgress;
  const cacheDir = options.segmentCacheDir === undefined ? defaultCacheDir() : options.segmentCacheDir;

  const members = await groupHardLinks(toCpioMembers(await walkTree(options.rootfsDir)));
  const bulk = cacheDir === false ? [] : members.filter(isBulkFile);
  const rest = members.filter((m) => !bulk.includes(m as never));
  progress(`initrd: ${members.length} entries, ${compression} level ${level} -> ${options.output}`);

  const uncompressedBytes = await writeAtomically(options.output, async (temporaryPath) => {
    const segment = bulk.length && cacheDir !== false
      ? await bulkSegment(bulk, compression, level, mtime, cacheDir, progress)
      : undefined;
    // Inode numbers 1..bulk.length belong to the bulk segment.
    const restBytes = await writeCompressedArchive(temporaryPath, rest, bulk.length + 1, compression, level, mtime);
    if (!segment) return restBytes;
    await pipeline(createReadStream(segment.path), createWriteStream(temporaryPath, { flags: 'a' }));
    return restBytes + segment.uncompressedBytes;
  });
  const bytes = (await stat(options.output)).size;
  progress(`initrd: ${formatBytes(uncompressedBytes)} cpio -> ${formatBytes(bytes)} ${compression}`);
  return { path: options.output, bytes, uncompressedBytes, entries: members.length, compression, level, segments: bulk.length ? 2 : 1 };
}

function toCpioMembers(tree: TreeEntry[]): CpioMember[] {
  const members: CpioMember[] = [];
  const hasDev = tree.some((e) => e.path === 'dev' && e.kind === 'dir');
  for (const entry of tree) {
    if (entry.kind === 'dir') members.push({ kind: 'dir', name: entry.path, mode: entry.mode });
    else if (entry.kind === 'symlink') members.push({ kind: 'symlink', name: entry.path, mode: 0o777, target: entry.linkTarget ?? '' });
    else members.push({ kind: 'file', name: entry.path, mode: entry.mode, size: entry.size, hostPath: entry.hostPath });
    if (entry.path === 'dev' && !tree.some((e) => e.path === CONSOLE_NODE.name)) members.push(CONSOLE_NODE);
  }
  if (!hasDev) members.unshift({ kind: 'dir', name: 'dev', mode: 0o755 }, CONSOLE_NODE);
  return members;
}
