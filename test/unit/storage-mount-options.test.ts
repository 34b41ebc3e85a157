import { describe, expect, it } from 'vitest';
import {
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_SLAVE,
} from '../../agent/src/native/constants';
import { checkMountPoint } from '../../agent/src/storage/mount-point';
import { optionValue, parseMountOptions, splitOptionString } from '../../agent/src/storage/mount-options';
import { Code, RpcError } from '../../agent/src/ttrpc/status';

describe('storage mount options', () => {
  it('turns the sandbox /dev/shm options Kata sends into flags and tmpfs data', () => {
    const parsed = parseMountOptions(['noexec', 'nosuid', 'nodev', 'mode=1777', 'size=67108864']);
    expect(parsed.flags).toBe(MS_NOEXEC | MS_NOSUID | MS_NODEV);
    expect(parsed.data).toBe('mode=1777,size=67108864');
    expect(parsed.propagation).toEqual([]);
  });

  it('splits comma-joined entries (9p options) and keeps quoted commas', () => {
    expect(splitOptionString('trans=virtio,version=9p2000.L, msize=8192')).toEqual(['trans=virtio', 'version=9p2000.L', 'msize=8192']);
    expect(splitOptionString('context="a,b",ro')).toEqual(['context="a,b"', 'ro']);
    const parsed = parseMountOptions(['trans=virtio,version=9p2000.L,cache=mmap', 'nodev']);
    expect(parsed.flags).toBe(MS_NODEV);
    expect(parsed.data).toBe('trans=virtio,version=9p2000.L,cache=mmap');
    expect(optionValue(['trans=virtio,version=9p2000.L'], 'version')).toBe('9p2000.L');
  });

  it('knows bind, rbind, ro/rw ordering and propagation', () => {
    expect(parseMountOptions(['bind']).flags).toBe(MS_BIND);
    expect(parseMountOptions(['rbind', 'ro']).flags).toBe(MS_BIND | MS_REC | MS_RDONLY);
    expect(parseMountOptions(['ro', 'rw']).flags).toBe(0);
    expect(parseMountOptions(['rw', 'ro']).flags).toBe(MS_RDONLY);
    const prop = parseMountOptions(['rprivate', 'slave']);
    expect(prop.flags).toBe(0);
    expect(prop.propagation).toEqual([MS_PRIVATE | MS_REC, MS_SLAVE]);
  });

  it('keeps Kata-only and fstab-only options away from the kernel', () => {
    const parsed = parseMountOptions(['defaults', 'nofail', 'x-systemd.automount', 'io.katacontainers.fs-opt.overlay-rw', 'fsgid=2000', 'lowerdir=/a:/b', 'dax']);
    expect(parsed.data).toBe('lowerdir=/a:/b,dax');
    expect(parsed.fsGid).toBe(2000);
    expect(() => parseMountOptions(['fsgid=abc'])).toThrow(/fsgid/);
    expect(parseMountOptions(undefined)).toEqual({ flags: 0, propagation: [], data: '', fsGid: undefined });
  });
});

describe('storage mount points', () => {
  it('normalises what a runtime sends', () => {
    expect(checkMountPoint('/run/kata-containers/shared/containers/', 'x')).toBe('/run/kata-containers/shared/containers');
    expect(checkMountPoint('//run//kata-containers/./sandbox/shm', 'x')).toBe('/run/kata-containers/sandbox/shm');
  });

  it.each([
    ['relative', 'run/x', /not absolute/],
    ['dot-dot escape', '/run/kata-containers/../../etc', /contains "\.\."/],
    ['root', '/', /over "\/"/],
    ['empty', '', /empty/],
  ])('refuses a %s mount point with INVALID_ARGUMENT', (_name, mountPoint, message) => {
    let caught: unknown;
    try {
      checkMountPoint(mountPoint, 'add storage 0 (local x)');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RpcError);
    expect((caught as RpcError).code).toBe(Code.INVALID_ARGUMENT);
    expect((caught as RpcError).message).toMatch(message);
    expect((caught as RpcError).message).toContain('add storage 0 (local x)');
  });
});
