// pollFd and setAsyncSignal, the two calls the virtio-serial listener sleeps on between hosts,
// exercised on a pipe: poll() reports readiness and hang-up without waiting, and an fd with
// O_ASYNC raises SIGIO in this process when its state changes.
import { once } from 'node:events';
import { closeSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createPipe, native, POLLHUP } from '../../agent/src/native';

const POLLIN = 0x1;
const POLLOUT = 0x4;

describe('pollFd', () => {
  it('reports readable, writable and hang-up at once, without waiting', () => {
    const addon = native();
    const { read, write } = createPipe();
    try {
      expect(addon.pollFd(read)).toBe(0);
      expect(addon.pollFd(write) & POLLOUT).toBe(POLLOUT);
      writeSync(write, 'x');
      expect(addon.pollFd(read) & POLLIN).toBe(POLLIN);
      closeSync(write);
      expect(addon.pollFd(read) & POLLHUP).toBe(POLLHUP);
    } finally {
      closeSync(read);
    }
  });

  it('reports a closed fd as invalid; setAsyncSignal throws a readable error on it', () => {
    const notOpen = 999_999; // above any fd this process opens
    // POLLNVAL is not an error for poll(); the fd is reported, not thrown on.
    expect(native().pollFd(notOpen) & 0x20).toBe(0x20);
    expect(() => native().setAsyncSignal(notOpen, 1)).toThrow('enable SIGIO on fd 999999: EBADF');
  });
});

describe('setAsyncSignal', () => {
  it('makes the fd raise SIGIO in this process when data arrives, and stops when turned off', async () => {
    const addon = native();
    const { read, write } = createPipe();
    let count = 0;
    const onSigio = () => count++;
    process.on('SIGIO', onSigio);
    try {
      addon.setAsyncSignal(read, 1);
      const raised = once(process, 'SIGIO');
      writeSync(write, 'x');
      await raised;
      expect(count).toBe(1);
      addon.setAsyncSignal(read, 0);
      writeSync(write, 'y');
      // A signal would be delivered before this round trip through the event loop completes.
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(count).toBe(1);
    } finally {
      process.off('SIGIO', onSigio);
      closeSync(read);
      closeSync(write);
    }
  });
});
