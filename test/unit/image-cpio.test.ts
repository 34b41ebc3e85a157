import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
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
