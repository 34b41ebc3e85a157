// statusFromError: every failure gets a code that says what went wrong, never UNKNOWN.
import { chownSync, constants, mkdtempSync, openSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeOf as networkCode } from '../../agent/src/network/errors';
import { storageError } from '../../agent/src/storage/errors';
import { Code, RpcError, statusFromError } from '../../agent/src/ttrpc/status';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

describe('statusFromError', () => {
  it('keeps an RpcError as it is', () => {
    expect(statusFromError(new RpcError(Code.NOT_FOUND, 'no such container c1'), 'StartContainer')).toEqual({ code: Code.NOT_FOUND, message: 'no such container c1' });
  });

  it("maps Node's own argument checks to INVALID_ARGUMENT (an unknown signal, a uid out of range)", () => {
    const signal = thrown(() => process.kill(process.pid, 4294967295 as unknown as NodeJS.Signals));
    expect(statusFromError(signal, 'SignalProcess')).toEqual({ code: Code.INVALID_ARGUMENT, message: expect.stringMatching(/^SignalProcess: Unknown signal: 4294967295/) });
    const dir = mkdtempSync(path.join(tmpdir(), 'status-'));
    try {
      const uid = thrown(() => chownSync(dir, -5, 0));
      expect(statusFromError(uid, 'CopyFile')).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('CopyFile: The value of "uid" is out of range') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('maps a refused symlink (ELOOP) to FAILED_PRECONDITION and leaves errno text in the message', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'status-'));
    try {
      symlinkSync('/etc/hostname', path.join(dir, 'link'));
      const loop = thrown(() => openSync(path.join(dir, 'link'), constants.O_RDONLY | constants.O_NOFOLLOW));
      expect(statusFromError(loop, 'CopyFile')).toEqual({ code: Code.FAILED_PRECONDITION, message: expect.stringMatching(/^CopyFile: ELOOP/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never answers UNKNOWN: an unmapped error or a thrown non-error is INTERNAL, named by the method', () => {
    expect(statusFromError(new Error('boom'), 'GetMetrics')).toEqual({ code: Code.INTERNAL, message: 'GetMetrics: boom' });
    expect(statusFromError(Object.assign(new Error('odd'), { code: 'EWEIRD' }))).toEqual({ code: Code.INTERNAL, message: 'odd' });
    expect(statusFromError('a string', 'Check')).toEqual({ code: Code.INTERNAL, message: 'Check: a string' });
    for (const code of ['ENOENT', 'EPERM', 'ELOOP', 'EMFILE', 'EPIPE', 'EIO', 'ERR_OUT_OF_RANGE']) {
      expect(statusFromError(Object.assign(new Error(code), { code })).code).not.toBe(Code.UNKNOWN);
    }
  });

  it('is the one errno table: storage and network failures get the same code as any other', () => {
    for (const errno of ['ENOENT', 'ENODEV', 'ENOTBLK', 'ELOOP', 'EBUSY', 'EROFS', 'EXDEV', 'ENOSPC', 'EADDRNOTAVAIL', 'ERANGE', 'ENETUNREACH', 'ETIMEDOUT', 'EIO']) {
      const err = Object.assign(new Error(`x: ${errno}`), { code: errno });
      const code = statusFromError(err).code;
      expect({ errno, storage: storageError('mount', err).code, network: networkCode(err) }).toEqual({ errno, storage: code, network: code });
    }
    expect(statusFromError(Object.assign(new Error('x'), { code: 'ENOTBLK' })).code).toBe(Code.INVALID_ARGUMENT);
    expect(statusFromError(Object.assign(new Error('x'), { code: 'ENETUNREACH' })).code).toBe(Code.FAILED_PRECONDITION);
  });
});
