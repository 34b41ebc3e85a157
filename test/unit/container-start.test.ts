// StartContainer's release of a created init through crun's exec FIFO, and its fallback to
// `crun start`. The runtime binary here is /bin/false, so any fallback shows as a crun error.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OciRuntime } from '../../agent/src/container/runtime/oci-runtime';
import { ociStart } from '../../agent/src/container/runtime/start';
import { Logger } from '../../agent/src/log/logger';

function runtimeWithFifo(id: string): { rt: OciRuntime; fifo: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'crun-root-'));
  mkdirSync(path.join(root, id));
  const fifo = path.join(root, id, 'exec.fifo');
  execFileSync('mkfifo', ['-m', '0600', fifo]);
  return { rt: new OciRuntime({ path: '/bin/false', root, log: new Logger({ level: 'error', sinks: new Set() }) }), fifo };
}

describe('ociStart', () => {
  it('releases a parked init by writing one byte to exec.fifo and removing it, as crun start does', async () => {
    const { rt, fifo } = runtimeWithFifo('c1');
    // The parked init: holds the read end, as crun's init does from create on.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await ociStart(rt, 'c1', { poststartHooks: false });
      const buf = Buffer.alloc(4);
      expect(readSync(reader, buf)).toBe(1);
      expect(buf[0]).toBe(0);
      expect(existsSync(fifo)).toBe(false);
    } finally {
      closeSync(reader);
    }
  });

  it('leaves it to crun start when the init is gone (no reader) or poststart hooks must run', async () => {
    const { rt, fifo } = runtimeWithFifo('c2');
    await expect(ociStart(rt, 'c2', { poststartHooks: false })).rejects.toThrow(/crun start c2/);
    expect(existsSync(fifo)).toBe(true);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await expect(ociStart(rt, 'c2', { poststartHooks: true })).rejects.toThrow(/crun start c2/);
      expect(existsSync(fifo)).toBe(true);
    } finally {
      closeSync(reader);
    }
  });
});
