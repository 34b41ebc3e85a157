import { randomBytes } from 'node:crypto';
import { cp, link, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInitrd } from '../../image-builder/src/initrd/index';
import { makeSampleTree, makeTempDir, removeDir, run } from './image-helpers';

describe('initrd newc cpio', () => {
  let work: string;
  let tree: string;

  beforeAll(async () => {
    work = await makeTempDir('cpio');
    tree = path.join(work, 'tree');
    await makeSampleTree(tree, 1_600_000_000);
  });
  afterAll(() => removeDir(work));

  it('is listed by cpio -t with every entry, in sorted order, parents first', async () => {
    const out = path.join(work, 'initrd.cpio');
    const result = await buildInitrd({ rootfsDir: tree, output: out, compression: 'none', sourceDateEpoch: 1234 });
    const listed = run('cpio', ['-t', '--quiet'], { input: await readFile(out) });
    expect(listed.status).toBe(0);
    expect(listed.stdout.trim().split('\n')).toEqual([
      'dev', 'dev/console', 'etc', 'etc/empty', 'etc/hosts', 'init', 'sbin', 'sbin/init', 'tmp', 'usr', 'usr/hosts-link',
      'usr/lib', 'usr/lib/kata-agent', 'usr/lib/kata-agent/agent.js',
    ]);
    expect(result.entries).toBe(14);
    expect(result.bytes).toBe(result.uncompressedBytes);
    expect(result.bytes % 4).toBe(0);
  });

  it('is read by bsdtar with root owners, fixed mtime, modes, link targets and contents intact', async () => {
    const out = path.join(work, 'initrd.gz');
    await buildInitrd({ rootfsDir: tree, output: out, compression: 'gzip', level: 6, sourceDateEpoch: 1234 });
    const verbose = run('bsdtar', ['-tvf', out, '--numeric-owner']);
    expect(verbose.status).toBe(0);
    const lines = verbose.stdout.trim().split('\n');
    for (const line of lines) expect(line).toMatch(/^\S+\s+\d+\s+0\s+0\s/);
    expect(lines.find((l) => l.endsWith(' tmp'))).toMatch(/^drwxrwxrwt/);
    expect(lines.find((l) => / sbin\/init$/.test(l) && !l.includes(' -> '))).toMatch(/^-rwxr-xr-x/);
    expect(lines.find((l) => l.includes('dev/console'))).toMatch(/^crw-------/);
    expect(lines.find((l) => l.includes(' init -> '))).toMatch(/init -> sbin\/init$/);

    const extracted = path.join(work, 'extracted');
    run('mkdir', ['-p', extracted]);
    const x = run('bsdtar', ['-xf', out, '-C', extracted, '--exclude', 'dev/console']);
    expect(x.stderr).toBe('');
    for (const f of ['sbin/init', 'etc/hosts', 'etc/empty', 'usr/lib/kata-agent/agent.js']) {
      expect(await readFile(path.join(extracted, f))).toEqual(await readFile(path.join(tree, f)));
    }
    const stat = run('stat', ['-c', '%Y', path.join(extracted, 'etc/hosts')]);
    expect(stat.stdout.trim()).toBe('1234');
  });

  it('puts files of 4 MiB and more in a second, cached archive that cpio reads after the first', async () => {
    const big = path.join(work, 'big-tree');
    await makeSampleTree(big, 1_600_000_000);
    await writeFile(path.join(big, 'usr/lib/kata-agent/big.bin'), randomBytes(5 << 20));
    const cache = path.join(work, 'segment-cache');
    const first = await buildInitrd({ rootfsDir: big, output: path.join(work, 'seg1.gz'), compression: 'gzip', level: 1, segmentCacheDir: cache, sourceDateEpoch: 9 });
    expect(first.segments).toBe(2);
    const cpio = gunzipSync(await readFile(first.path)); // both gzip members
    expect(cpio.length).toBe(first.uncompressedBytes);
    const archives = splitAtTrailers(cpio);
    expect(archives).toHaveLength(2);
    const names = archives.map((a) => run('cpio', ['-t', '--quiet'], { input: a }).stdout.trim().split('\n'));
    expect(names[1]).toEqual(['usr/lib/kata-agent/big.bin']);
    expect(names[0]).toContain('usr/lib/kata-agent'); // its directory comes first
    expect(names[0]).not.toContain('usr/lib/kata-agent/big.bin');
    const extracted = path.join(work, 'seg-extract');
    await mkdir(extracted);
    run('cpio', ['-id', '--quiet'], { cwd: extracted, input: archives[1] });
    expect((await readFile(path.join(extracted, 'usr/lib/kata-agent/big.bin'))).equals(await readFile(path.join(big, 'usr/lib/kata-agent/big.bin')))).toBe(true);

    // The second build takes the large files' archive from the cache and gives the same bytes.
    const cached = (await readdir(path.join(cache, 'initrd-segments')))[0]!;
    const before = (await stat(path.join(cache, 'initrd-segments', cached))).mtimeMs;
    const second = await buildInitrd({ rootfsDir: big, output: path.join(work, 'seg2.gz'), compression: 'gzip', level: 1, segmentCacheDir: cache, sourceDateEpoch: 9 });
    expect((await stat(path.join(cache, 'initrd-segments', cached))).mtimeMs).toBe(before);
    expect((await readFile(second.path)).equals(await readFile(first.path))).toBe(true);
    expect(second.uncompressedBytes).toBe(first.uncompressedBytes);
  });

  it('writes the 110-byte newc header with magic 070701 and ends with TRAILER!!!', async () => {
    const out = path.join(work, 'raw.gz');
    await buildInitrd({ rootfsDir: tree, output: out, compression: 'gzip', level: 1, sourceDateEpoch: 7 });
    const cpio = gunzipSync(await readFile(out));
    expect(cpio.subarray(0, 6).toString()).toBe('070701');
    expect(cpio.subarray(110, 113).toString()).toBe('dev');
    expect(cpio.includes(Buffer.from('TRAILER!!!\0'))).toBe(true);
    expect(cpio.length % 4).toBe(0);
  });
});

describe('initrd newc hard links', () => {
  let work: string;
  let tree: string;
  const DATA_BYTES = 100_003; // not a multiple of 4: padding counts too
  const pad4 = (n: number) => Math.ceil(n / 4) * 4;

  beforeAll(async () => {
    work = await makeTempDir('cpio-links');
    tree = path.join(work, 'tree');
    await makeSampleTree(tree, 1_600_000_000);
    await mkdir(path.join(tree, 'usr/bin'), { recursive: true });
    await writeFile(path.join(tree, 'usr/bin/tool'), randomBytes(DATA_BYTES), { mode: 0o755 });
    await link(path.join(tree, 'usr/bin/tool'), path.join(tree, 'sbin/tool'));
    await link(path.join(tree, 'usr/bin/tool'), path.join(tree, 'usr/bin/tool-alias'));
    // A second name outside the tree (as a package cache would have) is not a link in the archive.
    await link(path.join(tree, 'etc/hosts'), path.join(work, 'hosts-outside'));
  });
  afterAll(() => removeDir(work));

  it('stores a file with three names once: same size as one copy, shared inode number and nlink 3', async () => {
    const linked = await buildInitrd({ rootfsDir: tree, output: path.join(work, 'linked.cpio'), compression: 'none', sourceDateEpoch: 5 });
    const copies = path.join(work, 'copies');
    await cp(tree, copies, { recursive: true, verbatimSymlinks: true }); // node's cp writes separate files
    expect((await stat(path.join(copies, 'sbin/tool'))).nlink).toBe(1);
    const copied = await buildInitrd({ rootfsDir: copies, output: path.join(work, 'copies.cpio'), compression: 'none', sourceDateEpoch: 5 });
    expect(copied.bytes - linked.bytes).toBe(2 * pad4(DATA_BYTES));

    const verbose = run('cpio', ['-tv', '--quiet'], { input: await readFile(linked.path) });
    const toolLines = verbose.stdout.split('\n').filter((l) => /tool(-alias)?$/.test(l));
    expect(toolLines).toHaveLength(3);
    for (const line of toolLines) expect(line).toMatch(/^-rwxr-xr-x\s+3\s/);
    const headers = newcHeaders(await readFile(linked.path)).filter((h) => /tool/.test(h.name));
    expect(headers.map((h) => h.name)).toEqual(['sbin/tool', 'usr/bin/tool', 'usr/bin/tool-alias']);
    expect(new Set(headers.map((h) => h.ino)).size).toBe(1);
    expect(headers.map((h) => h.fileSize)).toEqual([0, 0, DATA_BYTES]); // data with the last name only
    expect(newcHeaders(await readFile(linked.path)).find((h) => h.name === 'etc/hosts')!.nlink).toBe(1);
  });

  it.each([
    ['cpio -i', (archive: string, into: string) => run('cpio', ['-id', '--quiet', '-F', archive], { cwd: into })],
    ['bsdtar', (archive: string, into: string) => run('bsdtar', ['-xf', archive, '-C', into, '--exclude', 'dev/console'])],
  ])('extracts with %s into names that share one inode and the data', async (tool, extract) => {
    const archive = path.join(work, `x.gz`);
    await buildInitrd({ rootfsDir: tree, output: archive, compression: 'gzip', level: 1, sourceDateEpoch: 5 });
    const into = path.join(work, `extract-${tool.replace(/\W/g, '')}`);
    await mkdir(into);
    const plain = path.join(work, 'x.cpio');
    await writeFile(plain, gunzipSync(await readFile(archive)));
    const result = extract(tool === 'bsdtar' ? archive : plain, into);
    expect(result.stderr.replace(/.*dev\/console.*\n?/g, '')).toBe('');
    const names = ['usr/bin/tool', 'sbin/tool', 'usr/bin/tool-alias'];
    const stats = await Promise.all(names.map((n) => stat(path.join(into, n))));
    expect(new Set(stats.map((s) => s.ino)).size).toBe(1);
    expect(stats[0]!.nlink).toBe(3);
    expect((await readFile(path.join(into, 'sbin/tool'))).equals(await readFile(path.join(tree, 'usr/bin/tool')))).toBe(true);
    expect((await stat(path.join(into, 'etc/hosts'))).nlink).toBe(1);
  });

  it('gives the same bytes for a copy of the tree elsewhere (inode numbers do not come from the host)', async () => {
    const elsewhere = path.join(work, 'elsewhere', 'tree');
    await mkdir(path.dirname(elsewhere), { recursive: true });
    expect(run('cp', ['-a', tree, elsewhere]).status).toBe(0); // cp -a keeps hard links
    expect((await stat(path.join(elsewhere, 'sbin/tool'))).nlink).toBe(3);
    const a = await buildInitrd({ rootfsDir: tree, output: path.join(work, 'r1.gz'), compression: 'gzip', level: 6, sourceDateEpoch: 5 });
    const b = await buildInitrd({ rootfsDir: elsewhere, output: path.join(work, 'r2.gz'), compression: 'gzip', level: 6, sourceDateEpoch: 5 });
    expect((await readFile(a.path)).equals(await readFile(b.path))).toBe(true);
  });

  it('keeps a large hard-linked pair together in the cached segment, data once, and sizes it right when cached', async () => {
    const big = path.join(work, 'big-links');
    await makeSampleTree(big, 1_600_000_000);
    await writeFile(path.join(big, 'usr/lib/kata-agent/big.bin'), randomBytes(5 << 20));
    await link(path.join(big, 'usr/lib/kata-agent/big.bin'), path.join(big, 'usr/lib/kata-agent/big-too.bin'));
    const cache = path.join(work, 'links-cache');
    const build = (out: string) => buildInitrd({ rootfsDir: big, output: path.join(work, out), compression: 'gzip', level: 1, segmentCacheDir: cache, sourceDateEpoch: 9 });
    const first = await build('big1.gz');
    const second = await build('big2.gz'); // segment from the cache: its size is computed, not counted
    expect(second.uncompressedBytes).toBe(first.uncompressedBytes);
    const archives = splitAtTrailers(gunzipSync(await readFile(second.path)));
    expect(archives).toHaveLength(2);
    expect(archives[1]!.length).toBeLessThan((5 << 20) + 1024);
    expect(newcHeaders(archives[1]!).map((h) => [h.name, h.nlink, h.fileSize])).toEqual([
      ['usr/lib/kata-agent/big-too.bin', 2, 0],
      ['usr/lib/kata-agent/big.bin', 2, 5 << 20],
      ['TRAILER!!!', 1, 0],
    ]);
    expect(gunzipSync(await readFile(second.path)).length).toBe(second.uncompressedBytes);
  });
});

/** The headers of a newc archive, walked by their size fields. */
function newcHeaders(archive: Buffer): Array<{ name: string; ino: number; nlink: number; fileSize: number }> {
  const field = (at: number, i: number) => Number.parseInt(archive.subarray(at + 6 + i * 8, at + 14 + i * 8).toString(), 16);
  const headers: Array<{ name: string; ino: number; nlink: number; fileSize: number }> = [];
  for (let at = 0; at < archive.length;) {
    const nameSize = field(at, 11);
    const name = archive.subarray(at + 110, at + 110 + nameSize - 1).toString();
    const fileSize = field(at, 6);
    headers.push({ name, ino: field(at, 0), nlink: field(at, 4), fileSize });
    if (name === 'TRAILER!!!') break;
    at = Math.ceil((at + 110 + nameSize) / 4) * 4;
    at = Math.ceil((at + fileSize) / 4) * 4;
  }
  return headers;
}

/** Cuts a stream of concatenated newc archives after each TRAILER!!! member (110 + 11 bytes + padding). */
function splitAtTrailers(stream: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let at = stream.indexOf('TRAILER!!!\0'); at !== -1; at = stream.indexOf('TRAILER!!!\0', at + 1)) {
    const end = Math.ceil((at + 11) / 4) * 4;
    parts.push(stream.subarray(start, end));
    start = end;
  }
  return parts;
}
