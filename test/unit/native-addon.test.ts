// The addon's shape: constants agree with the kernel headers it was built against, arguments
// are checked, and errors carry code, errno, syscall and a message naming the operation.
import { describe, expect, it } from 'vitest';
import * as face from '../../agent/src/native';
import * as constants from '../../agent/src/native/constants';

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
      face.mount('proc', '/nonexistent/kata-native-test', 'proc', 0, null);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toBe('mount proc proc at /nonexistent/kata-native-test: ENOENT');
    expect(err?.code).toBe('ENOENT');
    expect(err?.errno).toBe(-2);
    expect(err?.syscall).toBe('mount');
  });

  it('rejects arguments of the wrong type instead of guessing', () => {
    const addon = face.native();
    expect(() => addon.umount2(42 as unknown as string, 0)).toThrow(TypeError);
    expect(() => addon.umount2('/tmp\0/x', 0)).toThrow('target must be a string without NUL bytes');
    expect(() => (addon.mount as unknown as (...a: unknown[]) => void)('a', 'b')).toThrow('mount: expected 5 arguments, got 2');
    expect(() => addon.closeFd('3' as unknown as number)).toThrow('fd must be a number');
  });

  it('syncs', () => {
    expect(() => face.sync()).not.toThrow();
  });
});
