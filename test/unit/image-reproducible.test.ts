import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../image-builder/src/image/index';
import { buildInitrd } from '../../image-builder/src/initrd/index';
import { exportTreeToTar, importTreeFromTar } from '../../image-builder/src/rootfs/tarball';
import * as tar from 'tar-stream';
import { makeSampleTree, makeTempDir, removeDir } from './image-helpers';

describe('reproducible outputs', () => {
  let work: string;
  let treeA: string;
  let treeB: string;

  beforeAll(async () => {
    work = await makeTempDir('repro');
    // Same content, built at different times in different places, with different input mtimes
    // (and so different ctimes/atimes too).
    treeA = path.join(work, 'a', 'tree');
    treeB = path.join(work, 'elsewhere', 'b', 'tree');
    await makeSampleTree(treeA, 1_000_000_000);
    await mkdir(path.dirname(treeB), { recursive: true });
    await cp(treeA, treeB, { recursive: true, verbatimSymlinks: true });
    await utimes(path.join(treeB, 'etc/hosts'), 1_700_000_000, 1_700_000_000);
    await utimes(path.join(treeB, 'sbin'), 1_700_000_123, 1_700_000_123);
  });
  afterAll(() => removeDir(work));

  it.each([['gzip', 9], ['zstd', 3], ['none', 0]] as const)('initrd (%s) is bit-identical across builds', async (compression, level) => {
    const a = await buildInitrd({ rootfsDir: treeA, output: path.join(work, `a.${compression}`), compression, level, sourceDateEpoch: 42 });
    const b = await buildInitrd({ rootfsDir: treeB, output: path.join(work, `b.${compression}`), compression, level, sourceDateEpoch: 42 });
    expect((await readFile(a.path)).equals(await readFile(b.path))).toBe(true);
    // ...and the epoch really is in there: another one changes the bytes.
    const c = await buildInitrd({ rootfsDir: treeA, output: path.join(work, `c.${compression}`), compression, level, sourceDateEpoch: 43 });
    expect((await readFile(a.path)).equals(await readFile(c.path))).toBe(false);
  });

  it.each([['ext4', 'dax'], ['ext4', 'disk'], ['erofs', 'dax']] as const)('image (%s, %s) is bit-identical across builds', async (filesystem, layout) => {
    const a = await buildImage({ rootfsDir: treeA, output: path.join(work, `a-${filesystem}-${layout}.img`), filesystem, layout, sourceDateEpoch: 42 });
    const b = await buildImage({ rootfsDir: treeB, output: path.join(work, `b-${filesystem}-${layout}.img`), filesystem, layout, sourceDateEpoch: 42 });
    expect(a.uuid).toBe(b.uuid);
    expect(a.bytes).toBe(b.bytes);
    expect((await readFile(a.path)).equals(await readFile(b.path))).toBe(true);
  });

  it('changing one byte of content changes the image', async () => {
    const treeC = path.join(work, 'c', 'tree');
    await mkdir(path.dirname(treeC), { recursive: true });
    await cp(treeA, treeC, { recursive: true, verbatimSymlinks: true });
    await writeFile(path.join(treeC, 'etc/hosts'), '127.0.0.2 localhost\n');
    const a = await buildImage({ rootfsDir: treeA, output: path.join(work, 'x-a.img'), sourceDateEpoch: 42 });
    const c = await buildImage({ rootfsDir: treeC, output: path.join(work, 'x-c.img'), sourceDateEpoch: 42 });
    expect((await readFile(a.path)).equals(await readFile(c.path))).toBe(false);
  });

  it('a tree survives tar export and import, and re-exports to the same bytes', async () => {
    const tarA = path.join(work, 'tree-a.tar');
    await exportTreeToTar(treeA, tarA, { sourceDateEpoch: 42 });
    const imported = path.join(work, 'imported');
    await importTreeFromTar(tarA, imported);
    const tarB = path.join(work, 'tree-b.tar');
    await exportTreeToTar(imported, tarB, { sourceDateEpoch: 42 });
    expect((await readFile(tarA)).equals(await readFile(tarB))).toBe(true);
    expect(execFileSync('bsdtar', ['-tf', tarA]).toString().split('\n')).toContain('usr/lib/kata-agent/agent.js');
    expect(await readFile(path.join(imported, 'usr/lib/kata-agent/agent.js'))).toEqual(await readFile(path.join(treeA, 'usr/lib/kata-agent/agent.js')));
  });

  it('refuses a tarball entry that climbs out of the target directory, writing nothing outside', async () => {
    const evil = path.join(work, 'evil.tar');
    const pack = tar.pack();
    pack.entry({ name: 'ok.txt' }, 'fine');
    pack.entry({ name: '../../escaped.txt' }, 'bad');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    await writeFile(evil, Buffer.concat(chunks));
    const target = path.join(work, 'evil-target', 'tree');
    await expect(importTreeFromTar(evil, target)).rejects.toThrow(/import .*evil\.tar entry \.\.\/\.\.\/escaped\.txt: .*escapes the rootfs/);
    expect(existsSync(path.join(work, 'escaped.txt'))).toBe(false);
  });

  it('a failing build leaves no half-written initrd or image behind', async () => {
    const bad = path.join(work, 'bad-tree');
    await mkdir(bad);
    await writeFile(path.join(bad, 'ok'), 'x');
    execFileSync('mkfifo', [path.join(bad, 'a-fifo')]);
    const outDir = path.join(work, 'bad-out');
    await mkdir(outDir);
    await expect(buildInitrd({ rootfsDir: bad, output: path.join(outDir, 'initrd.img'), compression: 'gzip' })).rejects.toThrow(/a-fifo: unsupported file type/);
    await expect(buildImage({ rootfsDir: bad, output: path.join(outDir, 'rootfs.img') })).rejects.toThrow(/a-fifo: unsupported file type/);
    await expect(buildImage({ rootfsDir: path.join(work, 'no-such-tree'), output: path.join(outDir, 'rootfs.img') })).rejects.toThrow(/read rootfs tree .*no-such-tree: ENOENT/);
    expect(await readdir(outDir)).toEqual([]);
  });
});
