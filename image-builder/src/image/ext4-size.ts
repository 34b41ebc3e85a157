import type { TreeEntry } from '../rootfs/walk';

export const EXT4_BLOCK_BYTES = 4096;
const INODE_BYTES = 256;
const BLOCKS_PER_GROUP = 32768;
/** Inodes 1-10 are reserved by ext4, 11 is lost+found. */
const RESERVED_INODES = 11;
/** JBD2_MIN_JOURNAL_BLOCKS: the smallest journal ext4 accepts. */
export const MIN_JOURNAL_BLOCKS = 1024;

export interface Ext4Geometry {
  blocks: number;
  inodes: number;
  /** What the tree's own data and directories take, in bytes ("du" of the tree in 4 KiB blocks). */
  contentBytes: number;
}

/**
 * Estimates the smallest filesystem that holds `tree`: data and directory blocks, inode tables,
 * bitmaps, group descriptors and superblock copies, lost+found, an optional journal, and a little
 * slack for extent-tree blocks. The caller grows it and retries if mkfs still runs out of space.
 */
export function estimateExt4Geometry(tree: TreeEntry[], withJournal: boolean): Ext4Geometry {
  const childNameBytes = new Map<string, number>();
  let dataBlocks = 0;
  for (const entry of tree) {
    const parent = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : '';
    const name = entry.path.slice(entry.path.lastIndexOf('/') + 1);
    // ext4_dir_entry_2: 8 bytes + name, rounded to 4.
    childNameBytes.set(parent, (childNameBytes.get(parent) ?? 0) + 8 + Math.ceil(name.length / 4) * 4);
    if (entry.kind === 'file') dataBlocks += Math.ceil(entry.size / EXT4_BLOCK_BYTES);
    // Targets under 60 bytes live in the inode ("fast symlinks").
    if (entry.kind === 'symlink' && entry.size >= 60) dataBlocks += 1;
  }
  let directoryBlocks = 0;
  for (const entry of [{ path: '' }, ...tree.filter((e) => e.kind === 'dir')]) {
    const bytes = 24 /* "." and ".." */ + 12 /* checksum tail */ + (childNameBytes.get(entry.path) ?? 0);
    directoryBlocks += Math.max(1, Math.ceil(bytes / EXT4_BLOCK_BYTES));
  }
  const lostAndFoundBlocks = 4;
  const contentBlocks = dataBlocks + directoryBlocks;
  const inodes = roundUp(tree.length + RESERVED_INODES + 1 + 32, EXT4_BLOCK_BYTES / INODE_BYTES);
  const journalBlocks = withJournal ? MIN_JOURNAL_BLOCKS : 0;
  let blocks = contentBlocks + lostAndFoundBlocks + journalBlocks + inodes / (EXT4_BLOCK_BYTES / INODE_BYTES);
  blocks += Math.ceil(blocks * 0.01) + 64; // extent index blocks, fragmentation
  const groups = Math.ceil(blocks / BLOCKS_PER_GROUP);
  // Per group: two bitmaps; superblock + descriptor copies on group 0, 1 and powers of 3, 5, 7.
  blocks += groups * 2 + sparseSuperGroups(groups) * (1 + Math.ceil((groups * 64) / EXT4_BLOCK_BYTES));
  // mke2fs silently leaves the journal out of a filesystem under 2048 blocks.
  if (withJournal) blocks = Math.max(blocks, 2048 + 64);
  return { blocks, inodes, contentBytes: contentBlocks * EXT4_BLOCK_BYTES };
}

function sparseSuperGroups(groups: number): number {
  let count = 0;
  for (let g = 0; g < groups; g++) if (g <= 1 || isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7)) count++;
  return count;
}

function isPowerOf(n: number, base: number): boolean {
  while (n > 1 && n % base === 0) n /= base;
  return n === 1;
}

function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}
