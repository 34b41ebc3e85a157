// GetVolumeStats against df, the swap header against util-linux mkswap and blkid, and the
// checks of AddSwap/AddSwapPath, SetGuestDateTime and ReseedRandomDev that run before any
// host-changing call (swapon, settimeofday and the entropy ioctl themselves run only in the VM).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDateTime, checkSeed, reseedRandom, setGuestDateTime } from '../../agent/src/guest/clock-entropy';
import { addSwapDevice, addSwapFile, hasSwapSignature, kernelPageSize, prepareSwapArea, writeSwapHeader } from '../../agent/src/guest/swap';
import { volumeStats } from '../../agent/src/guest/volume-stats';
import { Code } from '../../agent/src/ttrpc/status';
import { skipUnlessAvailable, toolMissingReason } from '../helpers/requirement';

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  temps.push(d);
  return d;
}
function sizedFile(dir: string, name: string, bytes: number): string {
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.alloc(bytes));
  return file;
}
const needs = (tool: string) => skipUnlessAvailable(toolMissingReason(tool, 'util-linux'));

describe('GetVolumeStats', () => {
  const df = (dir: string): string[] =>
    execFileSync('df', ['-B1', '--output=size,used,avail,itotal,iused,iavail', dir], { encoding: 'utf8' }).trim().split('\n')[1]!.trim().split(/\s+/);
  const ours = async (dir: string): Promise<string[]> => {
    const s = await volumeStats(dir);
    expect(s.usage.map((u) => u.unit)).toEqual(['BYTES', 'INODES']);
    expect(s.volume_condition).toEqual({ abnormal: false, message: '' });
    return [s.usage[0]!.total, s.usage[0]!.used, s.usage[0]!.available, s.usage[1]!.total, s.usage[1]!.used, s.usage[1]!.available];
  };

  it('equals df exactly for a quiet tmpfs (/dev/shm): bytes and inodes', async () => {
    // Accept df just before or just after, in case something wrote to /dev/shm in between.
    const before = df('/dev/shm');
    const stats = await ours('/dev/shm');
    expect([before, df('/dev/shm')]).toContainEqual(stats);
  });

  it('agrees with df on a busy root filesystem (totals exact, usage within 0.1%)', async () => {
    const theirs = df('/').map(Number);
    const stats = (await ours('/')).map(Number);
    expect(stats[0]).toBe(theirs[0]);
    expect(stats[3]).toBe(theirs[3]);
    for (const i of [1, 2, 4, 5]) expect(Math.abs(stats[i]! - theirs[i]!)).toBeLessThanOrEqual(Math.max(theirs[0]!, theirs[3]!) / 1000);
  });

  it('answers NOT_FOUND for a missing path and INVALID_ARGUMENT for a relative one', async () => {
    await expect(volumeStats('/nonexistent/volume')).rejects.toThrow(expect.objectContaining({ code: Code.NOT_FOUND, message: expect.stringContaining('/nonexistent/volume') }));
    await expect(volumeStats('rel/path')).rejects.toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT }));
  });
});

describe('swap header', () => {
  it.skipIf(needs('mkswap'))('is byte-for-byte what mkswap writes in the first page', async () => {
    const dir = tempDir('swap-');
    const uuid = '3c2b7a1e-7f0e-4a4e-9a51-0c7f3a2d9e11';
    const ours = sizedFile(dir, 'ours', 1 << 20);
    const theirs = sizedFile(dir, 'theirs', 1 << 20);
    const header = await writeSwapHeader(ours, { pageSize: 4096, uuid });
    execFileSync('mkswap', ['-U', uuid, '-p', '4096', theirs], { stdio: 'ignore' });
    expect(header.pages).toBe(256);
    expect(readFileSync(ours).subarray(0, 4096).equals(readFileSync(theirs).subarray(0, 4096))).toBe(true);
  });

  it.skipIf(needs('blkid'))('is recognised by blkid as swap with our UUID', async () => {
    const file = sizedFile(tempDir('swap-'), 'swapfile', 4 << 20);
    const { uuid } = await writeSwapHeader(file);
    const out = execFileSync('blkid', ['-p', '-o', 'export', file], { encoding: 'utf8' });
    expect(out).toMatch(/^TYPE=swap$/m);
    expect(out).toContain(`UUID=${uuid}`);
  });

  it.skipIf(needs('mkswap'))('keeps an area the host already formatted, and formats one without a signature', async () => {
    const dir = tempDir('swap-');
    const uuid = '0b8f3c3e-1111-4222-8333-944455556666';
    const formatted = sizedFile(dir, 'formatted', 1 << 20);
    execFileSync('mkswap', ['-U', uuid, '-p', String(kernelPageSize()), formatted], { stdio: 'ignore' });
    const before = readFileSync(formatted);
    expect(await hasSwapSignature(formatted)).toBe(true);
    expect(await prepareSwapArea(formatted)).toEqual({ formatted: false });
    expect(readFileSync(formatted).equals(before)).toBe(true);
    const blank = sizedFile(dir, 'blank', 1 << 20);
    expect(await hasSwapSignature(blank)).toBe(false);
    expect(await prepareSwapArea(blank)).toMatchObject({ formatted: true, pages: (1 << 20) / kernelPageSize() });
    expect(await hasSwapSignature(blank)).toBe(true);
  });

  it('never formats an area that holds data: a file with one byte deep inside, or at the start, is refused and left as it was', async () => {
    const dir = tempDir('swap-');
    for (const offset of [0, 3 * 4096 + 17, (1 << 20) + 5]) {
      const file = sizedFile(dir, `data-${offset}`, 2 << 20);
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.from([0x42]), 0, 1, offset);
      closeSync(fd);
      const before = readFileSync(file);
      await expect(prepareSwapArea(file, 'AddSwapPath')).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION, message: expect.stringContaining(`holds data (a non-zero byte at offset ${offset})`) });
      await expect(addSwapFile(file)).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
      expect(readFileSync(file).equals(before)).toBe(true);
    }
  });

  it("knows the kernel's page size", () => {
    expect(kernelPageSize()).toBe(Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()));
  });

  it('refuses an area smaller than 10 pages', async () => {
    const file = sizedFile(tempDir('swap-'), 'tiny', 9 * 4096);
    await expect(writeSwapHeader(file, { pageSize: 4096 })).rejects.toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('10 pages') }));
  });
});

describe('AddSwapPath / AddSwap checks (before swapon)', () => {
  it('refuses relative, missing and non-file paths without formatting anything', async () => {
    const dir = tempDir('swap-');
    await expect(addSwapFile('swapfile')).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(addSwapFile(path.join(dir, 'missing'))).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(addSwapFile(dir)).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('not a regular file or a block device') });
    const tiny = sizedFile(dir, 'tiny', 4096);
    await expect(addSwapFile(tiny)).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect(readFileSync(tiny).every((b) => b === 0)).toBe(true);
  });

  it.skipIf(needs('losetup'))('takes a disk, as runtime-rs sends one (/dev/vdX): one that holds data is refused, not taken for a non-file', async () => {
    const dir = tempDir('swap-disk-');
    const backing = sizedFile(dir, 'disk', 1 << 20);
    const fd = openSync(backing, 'r+');
    writeSync(fd, Buffer.from('data'), 0, 4, 300_000);
    closeSync(fd);
    const device = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
    try {
      await expect(addSwapFile(device)).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION, message: expect.stringContaining('non-zero byte at offset 300000') });
    } finally {
      execFileSync('losetup', ['--detach', device]);
    }
    expect(readFileSync(backing).subarray(0, 4096).every((b) => b === 0)).toBe(true);
  });

  it('checks the PCI path and passes the resolver failure through unchanged', async () => {
    const never = async () => {
      throw new Error('resolver must not be called');
    };
    await expect(addSwapDevice([], never)).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(addSwapDevice([2, 32], never)).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('32') });
    const seen: number[][] = [];
    const timeout = async (p: readonly number[]) => {
      seen.push([...p]);
      throw Object.assign(new Error('wait for virtio-blk device at PCI path 02/03: did not appear'), { code: Code.DEADLINE_EXCEEDED });
    };
    await expect(addSwapDevice([2, 3], timeout)).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(seen).toEqual([[2, 3]]);
  });
});

describe('SetGuestDateTime / ReseedRandomDev checks', () => {
  it('takes int64 decimal strings and refuses out-of-range values before touching the clock', () => {
    expect(checkDateTime('1700000000', '250000')).toEqual({ seconds: 1700000000, microseconds: 250000 });
    expect(() => setGuestDateTime('-5', '0')).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('Sec') }));
    expect(() => setGuestDateTime('1700000000', '1000000')).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('Usec') }));
    expect(() => setGuestDateTime('12abc', '0')).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT }));
  });

  it('refuses empty or non-byte seeds, and reports a device that is not a random device', () => {
    expect(() => checkSeed(Buffer.alloc(0))).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT }));
    expect(() => checkSeed('abc')).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT }));
    expect(checkSeed(Buffer.from('seed')).toString()).toBe('seed');
    // A regular file in place of /dev/random: the ioctl fails and nothing on the host changes.
    const file = sizedFile(tempDir('rnd-'), 'not-random', 0);
    const fd = openSync(file, 'r');
    closeSync(fd);
    expect(() => reseedRandom(Buffer.from('0123456789abcdef'), file)).toThrow(/ENOTTY|Inappropriate ioctl|EINVAL/);
  });
});
