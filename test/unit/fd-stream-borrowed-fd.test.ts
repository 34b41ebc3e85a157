// FdStream with ownsFd: false, as the virtio-serial transport uses it: the fd outlives each
// stream, so one stream after another serves it and input queued in between is not lost
// (closing a virtio-serial port drops what the host already sent). A FIFO opened read-write
// stands in for the character device: not a socket, readable and writable on one fd.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FdStream } from '../../agent/src/native';
import { isFdOpen } from '../helpers/fds';

const dir = mkdtempSync(join(tmpdir(), 'fd-stream-borrowed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openFifo(name: string): number {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
}

async function firstChunk(stream: FdStream): Promise<string> {
  const [chunk] = (await once(stream, 'data')) as [Buffer];
  return chunk.toString();
}

describe('FdStream on a borrowed fd', () => {
  it('leaves the fd open when destroyed; the next stream reads what arrived in between', async () => {
    const fd = openFifo('port');
    try {
      const first = new FdStream(fd, { ownsFd: false });
      first.on('error', () => undefined);
      writeSync(fd, 'request-1');
      expect(await firstChunk(first)).toBe('request-1');
      first.destroy();
      await once(first, 'close');
      expect(isFdOpen(fd)).toBe(true);

      writeSync(fd, 'request-2'); // queued while no stream serves the fd
      const second = new FdStream(fd, { ownsFd: false });
      expect(await firstChunk(second)).toBe('request-2');
      second.destroy();
      await once(second, 'close');
      expect(isFdOpen(fd)).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it('closes the fd it owns (the default)', async () => {
    const fd = openFifo('owned');
    const stream = new FdStream(fd);
    stream.destroy();
    await once(stream, 'close');
    expect(isFdOpen(fd)).toBe(false);
  });
});
