import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runTool, ToolError } from '../progress/run-tool';
import type { Progress } from '../progress/progress';
import type { TreeEntry } from '../rootfs/walk';
import { EXT4_BLOCK_BYTES, estimateExt4Geometry } from './ext4-size';

export interface MakeExt4Options {
  treeDir: string;
  tree: TreeEntry[];
  /** The filesystem image file to create. */
  output: string;
  uuid: string;
  label: string;
  sourceDateEpoch: number;
  /** A 4 MiB journal; without one, data=ordered is made the superblock default (see below). */
  journal: boolean;
  progress: Progress;
}

export interface Ext4Result {
  bytes: number;
  blocks: number;
  inodes: number;
  contentBytes: number;
}

/**
 * Our own mke2fs.conf so the host's /etc/mke2fs.conf (which differs between distributions and
 * releases) cannot change the features, and so the result is the same on every machine.
 */
const MKE2FS_CONF = `[defaults]
	base_features = sparse_super,large_file,filetype,dir_index,ext_attr
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384
[fs_types]
	ext4 = {
		features = extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
	rootfs = {
	}
`;

const MAX_ATTEMPTS = 6;

/** Builds a reproducible ext4 filesystem from a directory without root or loop devices. */
export async function makeExt4(options: MakeExt4Options): Promise<Ext4Result> {
  const geometry = estimateExt4Geometry(options.tree, options.journal);
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'kata-ext4-'));
  const env = { ...process.env, MKE2FS_CONFIG: path.join(workDir, 'mke2fs.conf'), E2FSPROGS_FAKE_TIME: String(options.sourceDateEpoch) };
  try {
    await writeFile(env.MKE2FS_CONFIG, MKE2FS_CONF);
    let blocks = geometry.blocks;
    let inodes = geometry.inodes;
    for (let attempt = 1; ; attempt++) {
      await rm(options.output, { force: true });
      options.progress(`ext4: ${blocks} blocks (${(blocks * EXT4_BLOCK_BYTES / 2 ** 20).toFixed(1)} MiB), ${inodes} inodes`);
      try {
        await runTool('mkfs.ext4', mkfsArgs(options, blocks, inodes), { env });
        break;
      } catch (e) {
        if (!(e instanceof ToolError) || !looksOutOfSpace(e.output) || attempt === MAX_ATTEMPTS) {
          throw new Error(`make ext4 from ${options.treeDir}: ${(e as Error).message}`);
        }
        blocks = Math.ceil(blocks * 1.1) + 256;
        inodes += 256;
        options.progress(`ext4: too small, retrying with ${blocks} blocks`);
      }
    }
    await normalizeInodes(options, workDir, env);
    return { bytes: blocks * EXT4_BLOCK_BYTES, blocks, inodes, contentBytes: geometry.contentBytes };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function mkfsArgs(options: MakeExt4Options, blocks: number, inodes: number): string[] {
  const extended = [
    `hash_seed=${options.uuid}`, 'root_owner=0:0', 'no_copy_xattrs', 'nodiscard', 'lazy_itable_init=0',
  ];
  const args = ['-q', '-F', '-t', 'ext4', '-T', 'rootfs', '-b', String(EXT4_BLOCK_BYTES), '-I', '256',
    '-N', String(inodes), '-m', '0', '-U', options.uuid, '-L', options.label, '-E', extended.join(',')];
  if (options.journal) args.push('-O', 'has_journal', '-J', 'size=4');
  args.push('-d', options.treeDir, options.output, String(blocks));
  return args;
}

function looksOutOfSpace(output: string): boolean {
  return /could not allocate|no space|no free space|not enough|too small|inode/i.test(output);
}

/**
 * mkfs -d copies atime/ctime from the host (ctime cannot be set by utimes) and the owners of the
 * host files; debugfs rewrites them so the image depends only on the tree's contents.
 * Without a journal, Kata's `rootflags=...,data=ordered` would be refused ("can't mount with
 * data=, fs mounted w/o journal") unless ordered mode is also the superblock's default.
 */
async function normalizeInodes(options: MakeExt4Options, workDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const t = `@${options.sourceDateEpoch}`;
  const lines: string[] = [];
  for (const guestPath of ['/', ...options.tree.map((e) => `/${e.path}`)]) {
    const quoted = debugfsQuote(guestPath);
    for (const field of ['atime', 'ctime', 'mtime', 'crtime']) lines.push(`sif ${quoted} ${field} ${t}`);
  }
  for (const entry of options.tree) {
    if (entry.uid !== 0) lines.push(`sif ${debugfsQuote(`/${entry.path}`)} uid 0`);
    if (entry.gid !== 0) lines.push(`sif ${debugfsQuote(`/${entry.path}`)} gid 0`);
  }
  const script = path.join(workDir, 'normalize.debugfs');
  await writeFile(script, lines.join('\n') + '\n');
  const result = await runTool('debugfs', ['-w', '-f', script, options.output], { env });
  const problems = result.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('debugfs '));
  if (problems.length) throw new Error(`normalize ext4 inodes in ${options.output}: ${problems.slice(0, 5).join('; ')}`);
  if (!options.journal) await runTool('tune2fs', ['-o', 'journal_data_ordered', options.output], { env });
}

function debugfsQuote(guestPath: string): string {
  if (/["\n\\]/.test(guestPath)) throw new Error(`ext4: cannot express path ${guestPath} to debugfs`);
  return `"${guestPath}"`;
}
