// TIOCSWINSZ on a pty master: the size a program on the slave sees (`stty size`) follows.
import { closeSync, openSync } from 'node:fs';
import { spawn as spawnPty, type IPty } from 'node-pty';
import { describe, expect, it } from 'vitest';
import { getWindowSize, setWindowSize } from '../../agent/src/native';

/** node-pty keeps the master fd in a private field; the agent gets its fds from crun instead. */
function masterFd(pty: IPty): number {
  const fd = (pty as unknown as { _fd?: unknown })._fd;
  if (typeof fd !== 'number') throw new Error('node-pty no longer exposes the master fd as _fd');
  return fd;
}

describe('window size', () => {
  it('sets the size the program on the pty sees', async () => {
    // The shell waits for a line, so the size is set before stty reads it.
    const pty = spawnPty('sh', ['-c', 'read line; stty size'], { cols: 80, rows: 24 });
    let out = '';
    pty.onData((d) => (out += d));
    const exited = new Promise<number>((resolve) => pty.onExit((e) => resolve(e.exitCode)));
    const fd = masterFd(pty);
    expect(getWindowSize(fd)).toEqual({ rows: 24, cols: 80 });
    setWindowSize(fd, { rows: 33, cols: 121 });
    expect(getWindowSize(fd)).toEqual({ rows: 33, cols: 121 });
    pty.write('go\n');
    expect(await exited).toBe(0);
    expect(out).toMatch(/^33 121\r?$/m);
  });

  it('names the fd and the size when the ioctl fails', () => {
    const notOpen = 0x7ffff;
    expect(() => setWindowSize(notOpen, { rows: 10, cols: 20 })).toThrow(`set window size of fd ${notOpen} to 10x20: EBADF`);
    const devNull = openSync('/dev/null', 'r'); // open, but not a terminal
    try {
      let err: NodeJS.ErrnoException | undefined;
      try {
        setWindowSize(devNull, { rows: 1, cols: 1 });
      } catch (e) {
        err = e as NodeJS.ErrnoException;
      }
      expect(err?.code).toBe('ENOTTY');
      expect(err?.syscall).toBe('ioctl');
      expect(err?.message).toBe(`set window size of fd ${devNull} to 1x1: ENOTTY`);
    } finally {
      closeSync(devNull);
    }
  });
});
