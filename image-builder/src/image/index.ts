import { createHash } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { silentProgress, formatBytes, type Progress } from '../progress/progress';
import { writeAtomically } from '../rootfs/atomic-file';
import { sourceDateEpoch } from '../rootfs/source-date-epoch';
import { walkTree, type TreeEntry } from '../rootfs/walk';
import { assembleImageFile } from './assemble-image-file';
import { planLayout, type ImageLayout } from './disk-layout';
import { makeErofs } from './erofs';
import { makeExt4 } from './ext4';

export type { ImageLayout } from './disk-layout';
export type ImageFilesystem = 'ext4' | 'erofs';

export interface BuildImageOptions {
  /** The assembled rootfs tree (see `buildRootfs`). */
  rootfsDir: string;
  /** The image file to write (replaced atomically). */
  output: string;
  /** Default 'ext4'. */
  filesystem?: ImageFilesystem;
  /** 'dax' (default): Kata's layout for nvdimm (/dev/pmem0p1) and virtio-blk (/dev/vda1);
   *  'disk': MBR + one partition at 1 MiB (/dev/vda1); 'raw': the bare filesystem (/dev/vda). */
  layout?: ImageLayout;
  /** ext4 only: add a 4 MiB journal (default false: the root is mounted read-only). */
  journal?: boolean;
  /** Filesystem UUID; default derived from the tree listing and the epoch, so it is reproducible. */
  uuid?: string;
  sourceDateEpoch?: number;
  progress?: Progress;
}

export interface ImageResult {
  path: string;
  /** Size of the image file. */
  bytes: number;
  /** The tree's data and directories in 4 KiB blocks: what the image must hold at least. */
  contentBytes: number;
  filesystem: ImageFilesystem;
  filesystemBytes: number;
  /** Byte offset of the filesystem in the file (3 MiB for 'dax'). */
  filesystemOffset: number;
  layout: ImageLayout;
  uuid: string;
}

/** Builds a reproducible rootfs image from a tree, without root or loop devices. */
export async function buildImage(options: BuildImageOptions): Promise<ImageResult> {
  const filesystem = options.filesystem ?? 'ext4';
  const layout = options.layout ?? 'dax';
  const epoch = options.sourceDateEpoch ?? sourceDateEpoch();
  const progress = options.progress ?? silentProgress;
  const tree = await walkTree(options.rootfsDir);
  const uuid = options.uuid ?? deriveUuid(tree, epoch);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) {
    throw new Error(`build image ${options.output}: uuid ${uuid} is not a UUID`);
  }
  const filesystemFile = path.join(path.dirname(options.output), `.${path.basename(options.output)}.fs-${process.pid}`);
  try {
    let filesystemBytes: number;
    let contentBytes: number;
    if (filesystem === 'ext4') {
      const fs = await makeExt4({
        treeDir: options.rootfsDir, tree, output: filesystemFile, uuid, label: 'kata-rootfs',
        sourceDateEpoch: epoch, journal: options.journal ?? false, progress,
      });
      filesystemBytes = fs.bytes;
      contentBytes = fs.contentBytes;
    } else {
      filesystemBytes = (await makeErofs({ treeDir: options.rootfsDir, output: filesystemFile, uuid, sourceDateEpoch: epoch, progress })).bytes;
      contentBytes = tree.reduce((sum, e) => sum + (e.kind === 'file' ? Math.ceil(e.size / 4096) * 4096 : 0), 0);
    }
    const plan = planLayout(layout, filesystemBytes);
    await writeAtomically(options.output, (temporaryPath) =>
      assembleImageFile(temporaryPath, filesystemFile, plan, { uuid: Buffer.from(uuid.replaceAll('-', ''), 'hex') }));
    const bytes = (await stat(options.output)).size;
    progress(`image: ${layout} ${filesystem} ${formatBytes(bytes)} (content ${formatBytes(contentBytes)}) -> ${options.output}`);
    return { path: options.output, bytes, contentBytes, filesystem, filesystemBytes, filesystemOffset: plan.filesystemOffset, layout, uuid };
  } finally {
    await rm(filesystemFile, { force: true });
  }
}

/** A name-based UUID (version 5 style bits) from what the tree holds, so rebuilds get the same one. */
function deriveUuid(tree: TreeEntry[], epoch: number): string {
  const hash = createHash('sha256').update(`kata-node-agent rootfs ${epoch}\n`);
  for (const e of tree) hash.update(`${e.kind} ${e.path} ${e.mode} ${e.size} ${e.linkTarget ?? ''}\n`);
  const bytes = hash.digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
