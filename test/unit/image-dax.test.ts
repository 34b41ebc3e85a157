import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type ImageResult } from '../../image-builder/src/image/index';
import { makeSampleTree, makeTempDir, removeDir, run } from './image-helpers';

const MiB = 1 << 20;

/**
 * An independent re-implementation of the checks drivers/nvdimm/pfn_devs.c nd_pfn_validate()
 * (linux 6.1) applies to the info block at 4 KiB of a label-less namespace (parent uuid = null),
 * for a namespace starting at `resStart` (QEMU maps the nvdimm at a 2 MiB aligned address).
 * Returns the reason the kernel would refuse, or 'ok'.
 */
function kernelWouldAccept(sb: Buffer, namespaceBytes: number, resStart = 0x1_0000_0000): string {
  const PAGE_SIZE = 4096;
  const SUBSECTION = 2 * MiB; // memremap_compat_align() on x86
  if (sb.length !== 4096) return 'size';
  if (sb.subarray(0, 16).toString('latin1') !== 'NVDIMM_PFN_INFO\0') return 'signature';
  // nd_sb_checksum: nd_fletcher64 over the block with the checksum field zeroed.
  const stored = sb.readBigUInt64LE(4088);
  const copy = Buffer.from(sb);
  copy.fill(0, 4088);
  let lo = 0n;
  let hi = 0n;
  for (let i = 0; i < 4096; i += 4) {
    lo = (lo + BigInt(copy.readUInt32LE(i))) & 0xffff_ffffn;
    hi = (hi + lo) & 0xffff_ffff_ffff_ffffn;
  }
  if ((((hi << 32n) | lo) & 0xffff_ffff_ffff_ffffn) !== stored) return 'checksum';
  if (!sb.subarray(32, 48).equals(Buffer.alloc(16))) return 'parent_uuid';
  const versionMinor = sb.readUInt16LE(54);
  let startPad = sb.readUInt32LE(76);
  let endTrunc = sb.readUInt32LE(80);
  let align = BigInt(sb.readUInt32LE(84));
  let pageSize = sb.readUInt32LE(88);
  let pageStructSize = sb.readUInt16LE(92);
  if (versionMinor < 1) { startPad = 0; endTrunc = 0; }
  if (versionMinor < 2) align = 0n;
  if (versionMinor < 4) { pageStructSize = 64; pageSize = PAGE_SIZE; }
  const mode = sb.readUInt32LE(72);
  if (mode !== 1 && mode !== 2) return 'mode';
  const offset = sb.readBigUInt64LE(56);
  if (align === 0n) align = 1n << BigInt(offset.toString(2).length - 1);
  if (pageSize > PAGE_SIZE && mode === 2) return 'page size';
  if (pageStructSize < 64 && mode === 2) return 'struct page size';
  // The PFN_SIG path does not require a supported alignment, but ours should be one anyway.
  if (align !== 4096n && align !== BigInt(2 * MiB)) return 'alignment unsupported';
  if (align > BigInt(namespaceBytes)) return 'align exceeds capacity';
  if (offset >= BigInt(namespaceBytes)) return 'pfn array size exceeds capacity';
  if ((BigInt(resStart) + offset + BigInt(startPad)) % align !== 0n || offset % BigInt(PAGE_SIZE) !== 0n) return 'bad offset';
  if ((resStart + startPad) % SUBSECTION !== 0) return 'resource start misaligned';
  if ((resStart + namespaceBytes - endTrunc) % SUBSECTION !== 0) return 'resource end misaligned';
  return 'ok';
}

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(length);
    await fh.read(b, 0, length, offset);
    return b;
  } finally {
    await fh.close();
  }
}

function mbrPartition(mbr: Buffer): { type: number; firstLba: number; sectors: number } {
  expect(mbr[510]).toBe(0x55);
  expect(mbr[511]).toBe(0xaa);
  return { type: mbr[450]!, firstLba: mbr.readUInt32LE(454), sectors: mbr.readUInt32LE(458) };
}

describe('rootfs image with Kata DAX layout', () => {
  let work: string;
  let tree: string;
  let image: ImageResult;

  beforeAll(async () => {
    work = await makeTempDir('dax');
    tree = path.join(work, 'tree');
    await makeSampleTree(tree, 1_600_000_000);
    image = await buildImage({ rootfsDir: tree, output: path.join(work, 'rootfs.img'), sourceDateEpoch: 1000 });
  });
  afterAll(() => removeDir(work));

  it('has an MBR at 0 whose partition starts at 3 MiB and runs to the end of the file', async () => {
    const p = mbrPartition(await readAt(image.path, 0, 512));
    expect(p).toEqual({ type: 0x83, firstLba: (3 * MiB) / 512, sectors: (image.bytes - 3 * MiB) / 512 });
    expect(image.filesystemOffset).toBe(3 * MiB);
    expect(image.bytes % (2 * MiB)).toBe(0);
  });

  it('has a PFN info block at 4 KiB that passes every nd_pfn_validate check', async () => {
    const sb = await readAt(image.path, 4096, 4096);
    expect(kernelWouldAccept(sb, image.bytes)).toBe('ok');
    expect(sb.readUInt16LE(52)).toBe(1); // version_major
    expect(sb.readBigUInt64LE(56)).toBe(BigInt(2 * MiB)); // dataoff: the disk after the header
    expect(sb.readBigUInt64LE(64)).toBe(BigInt((image.bytes - 2 * MiB) / 4096)); // npfns
    expect(sb.readUInt32LE(72)).toBe(1); // PFN_MODE_RAM
    expect(sb.readUInt32LE(84)).toBe(2 * MiB);
    expect(sb.subarray(94, 4088).equals(Buffer.alloc(3994))).toBe(true);
  });

  it('the validator itself rejects a corrupted block and a misaligned namespace end', async () => {
    const sb = await readAt(image.path, 4096, 4096);
    const corrupted = Buffer.from(sb);
    corrupted[100] = 1;
    expect(kernelWouldAccept(corrupted, image.bytes)).toBe('checksum');
    expect(kernelWouldAccept(sb, image.bytes + 4096)).toBe('resource end misaligned');
  });

  it('the disk after the header has its own MBR with the partition at 1 MiB (/dev/pmem0p1)', async () => {
    const p = mbrPartition(await readAt(image.path, 2 * MiB, 512));
    expect(p).toEqual({ type: 0x83, firstLba: MiB / 512, sectors: (image.bytes - 3 * MiB) / 512 });
  });

  it('holds an ext4 filesystem that e2fsck -fn finds clean, with the tree inside', async () => {
    const fsFile = path.join(work, 'fs.ext4');
    await writeFile(fsFile, await readAt(image.path, image.filesystemOffset, image.filesystemBytes));
    const fsck = run('e2fsck', ['-fn', fsFile]);
    expect(fsck.stderr + fsck.stdout).not.toMatch(/error|corrupt|fix\?/i);
    expect(fsck.status).toBe(0);
    const cat = run('debugfs', ['-R', 'cat /etc/hosts', fsFile]);
    expect(cat.stdout).toBe(await readFile(path.join(tree, 'etc/hosts'), 'utf8'));
    const stat = run('debugfs', ['-R', 'stat /usr/lib/kata-agent/agent.js', fsFile]);
    expect(stat.stdout).toMatch(/User:\s+0\s+Group:\s+0/);
    expect(stat.stdout).toMatch(/Size: 70001/);
    expect(stat.stdout).toMatch(/mtime: 0x000003e8/);
    const features = run('dumpe2fs', ['-h', fsFile]);
    expect(features.stdout).toMatch(/Default mount options:.*journal_data_ordered/);
  });

  it('stays within content + 8 MiB', () => {
    expect(image.bytes - image.contentBytes).toBeLessThanOrEqual(8 * MiB);
  });

  it('can add a journal (for a writable root), still clean for e2fsck', async () => {
    const journaled = await buildImage({ rootfsDir: tree, output: path.join(work, 'journal.img'), layout: 'raw', journal: true, sourceDateEpoch: 1 });
    expect(run('e2fsck', ['-fn', journaled.path]).status).toBe(0);
    expect(run('dumpe2fs', ['-h', journaled.path]).stdout).toMatch(/features:.*has_journal/);
  });

  it('sizes a tree of many small files and long names so that mkfs fits it and e2fsck finds it clean', async () => {
    const many = path.join(work, 'many');
    for (let d = 0; d < 30; d++) {
      const dir = path.join(many, `directory-with-a-rather-long-name-${d}`.padEnd(120, 'x'));
      await mkdir(dir, { recursive: true });
      for (let f = 0; f < 100; f++) await writeFile(path.join(dir, `file-${f}`.padEnd(200, 'y')), 'z'.repeat(f * 37));
    }
    const raw = await buildImage({ rootfsDir: many, output: path.join(work, 'many.img'), layout: 'raw', sourceDateEpoch: 1 });
    const fsck = run('e2fsck', ['-fn', raw.path]);
    expect(fsck.status).toBe(0);
    // 3000 files + 30 directories + the 11 inodes ext4 reserves (root and lost+found among them).
    expect(fsck.stdout).toMatch(/ 3041\/\d+ files/);
    expect(raw.bytes - raw.contentBytes).toBeLessThanOrEqual(8 * MiB);
  });
});
