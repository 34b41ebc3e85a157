// The addon's shape: constants agree with the kernel headers it was built against, arguments
// are checked, and errors carry code, errno, syscall and a message naming the operation.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, statfsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as face from '../../agent/src/native';
import * as constants from '../../agent/src/native/constants';
import { realPath } from '../../agent/src/native/fs-stat';

describe('kata_native addon', () => {
  it('defines every TS constant with the value the C headers give', () => {
    const addon = face.native();
    const names = Object.keys(constants);
    expect(names.length).toBeGreaterThan(30);
    for (const name of names) {
      expect({ name, value: addon[name] }).toEqual({ name, value: (constants as Record<string, number>)[name] });
    }
  });

  it('throws errno errors shaped like Node system errors', () => {
    let err: NodeJS.ErrnoException | undefined;
    try {
      face.mountSync('proc', '/nonexistent/kata-native-test', 'proc', 0, null);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toBe('mount proc proc at /nonexistent/kata-native-test: ENOENT');
    expect(err?.code).toBe('ENOENT');
    expect(err?.errno).toBe(-2);
    expect(err?.syscall).toBe('mount');
  });

  it('rejects with the same errors from the calls that run on a thread of their own', async () => {
    const shape = (e: NodeJS.ErrnoException) => ({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall });
    const failed = async (p: Promise<unknown>) => shape(await p.then(() => ({}) as NodeJS.ErrnoException, (e: NodeJS.ErrnoException) => e));
    const target = '/nonexistent/kata-native-test';
    expect(await failed(face.mount('proc', target, 'proc', 0, null))).toEqual({ message: `mount proc proc at ${target}: ENOENT`, code: 'ENOENT', errno: -2, syscall: 'mount' });
    expect(await failed(face.mount('/nonexistent/src', target, null, face.MS_BIND, null))).toMatchObject({ message: `mount /nonexistent/src at ${target}: ENOENT` });
    expect(await failed(face.umount(target))).toEqual({ message: `unmount ${target}: ENOENT`, code: 'ENOENT', errno: -2, syscall: 'umount2' });
    expect(await failed(face.statfs(target))).toEqual({ message: `statfs ${target}: ENOENT`, code: 'ENOENT', errno: -2, syscall: 'statfs' });
    expect(await failed(face.statPath(target))).toEqual({ message: `stat ${target}: ENOENT`, code: 'ENOENT', errno: -2, syscall: 'stat' });
    expect(await failed(face.swapOff(target))).toMatchObject({ code: 'ENOENT', syscall: 'swapoff' });
  });

  it('statfs off the JS thread agrees with Node\'s', async () => {
    const ours = await face.statfs('/');
    const node = statfsSync('/', { bigint: true });
    expect(ours.type).toBe(node.type);
    expect(ours.bsize).toBe(node.bsize);
    expect(ours.blocks).toBe(node.blocks);
    expect(ours.files).toBe(node.files);
  });

  it('realpath off the JS thread agrees with Node\'s, and rejects like the others', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'realpath-'));
    mkdirSync(path.join(dir, 'real'));
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
    symlinkSync('../link/..', path.join(dir, 'real', 'up'));
    for (const p of ['/', dir, path.join(dir, 'link'), path.join(dir, 'link', 'up', 'real')]) expect(await realPath(p)).toBe(realpathSync.native(p));
    await expect(realPath(path.join(dir, 'link', 'missing'))).rejects.toMatchObject({ code: 'ENOENT', syscall: 'realpath' });
    rmSync(dir, { recursive: true });
  });

  it('runs many calls at once, each settling its own promise', async () => {
    const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => (i % 2 ? face.statPath('/') : face.statPath(`/nonexistent/${i}`))));
    results.forEach((r, i) => expect(r.status).toBe(i % 2 ? 'fulfilled' : 'rejected'));
  });

  it('rejects arguments of the wrong type instead of guessing', () => {
    const addon = face.native();
    // Checked on the JS thread before any thread starts: a throw, not a rejection.
    expect(() => addon.umount2Async(42 as unknown as string, 0)).toThrow(TypeError);
    expect(() => addon.umount2Async('/tmp\0/x', 0)).toThrow('path must be a string without NUL bytes');
    expect(() => (addon.mountAsync as unknown as (...a: unknown[]) => void)('a', 'b')).toThrow('mountAsync: expected 5 arguments, got 2');
    expect(() => (addon.mount as unknown as (...a: unknown[]) => void)('a', 'b')).toThrow('mount: expected 5 arguments, got 2');
    expect(() => addon.closeFd('3' as unknown as number)).toThrow('fd must be a number');
  });

  it('syncs', async () => {
    await expect(face.sync()).resolves.toBeUndefined();
  });
});
