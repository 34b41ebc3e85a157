// receiveFd: the listening side of crun's --console-socket. A small Python peer sends a real
// fd with SCM_RIGHTS (as crun does with the pty master), and we read through what we received.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, readdirSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { receiveFd } from '../../agent/src/native';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'native-console-socket-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Connects to `socketPath` and sends an fd of `file` (or none), like crun's console socket client. */
function sendFd(socketPath: string, file: string | null): Promise<unknown> {
  const script = [
    'import os, socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    's.connect(sys.argv[1])',
    'if sys.argv[2]:',
    '    fd = os.open(sys.argv[2], os.O_RDONLY)',
    '    socket.send_fds(s, [b"pty"], [fd])',
    's.close()',
  ].join('\n');
  return run('python3', ['-c', script, socketPath, file ?? '']);
}

/** Sends `count` fds in one message: the first on `file`, the rest on /dev/null. */
function sendManyFds(socketPath: string, file: string, count: number): Promise<unknown> {
  const script = [
    'import os, socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    's.connect(sys.argv[1])',
    'fds = [os.open(sys.argv[2], os.O_RDONLY)] + [os.open("/dev/null", os.O_RDONLY) for _ in range(int(sys.argv[3]) - 1)]',
    'socket.send_fds(s, [b"pty"], fds)',
    's.close()',
  ].join('\n');
  return run('python3', ['-c', script, socketPath, file, String(count)]);
}

function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

function readAll(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = readSync(fd, buf, 0, buf.length, null);
  return buf.subarray(0, n).toString();
}

describe('receiveFd', () => {
  it('receives the fd a peer sends, then removes the socket', async () => {
    const file = join(dir, 'payload.txt');
    writeFileSync(file, 'through SCM_RIGHTS');
    const socketPath = join(dir, 'console.sock');
    const received = receiveFd(socketPath, 10_000);
    expect(existsSync(socketPath)).toBe(true); // listening before the peer is started
    await sendFd(socketPath, file);
    const fd = await received;
    try {
      expect(readAll(fd)).toBe('through SCM_RIGHTS');
    } finally {
      closeSync(fd);
    }
    expect(existsSync(socketPath)).toBe(false);
  });

  it('keeps waiting when a peer disconnects without sending an fd', async () => {
    const file = join(dir, 'second.txt');
    writeFileSync(file, 'second peer');
    const socketPath = join(dir, 'console2.sock');
    const received = receiveFd(socketPath, 10_000);
    await sendFd(socketPath, null);
    await sendFd(socketPath, file);
    const fd = await received;
    expect(readAll(fd)).toBe('second peer');
    closeSync(fd);
  });

  it('takes the first of 12 fds sent in one message and leaves none of the others open', async () => {
    // More than receiveFd's control buffer holds (8): the kernel installs 8, we keep the first.
    const file = join(dir, 'first.txt');
    writeFileSync(file, 'the first fd');
    const socketPath = join(dir, 'many.sock');
    const before = openFdCount();
    const received = receiveFd(socketPath, 10_000);
    await sendManyFds(socketPath, file, 12);
    const fd = await received;
    try {
      expect(readAll(fd)).toBe('the first fd');
      expect(openFdCount()).toBe(before + 1);
    } finally {
      closeSync(fd);
    }
    expect(openFdCount()).toBe(before);
  });

  it('gives up after the timeout with ETIMEDOUT and cleans up', async () => {
    const socketPath = join(dir, 'nobody.sock');
    const err = (await receiveFd(socketPath, 50).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toBe(`receive fd on console socket ${socketPath}: ETIMEDOUT after 50 ms`);
    expect(existsSync(socketPath)).toBe(false);
  });

  it('fails at once when the socket cannot be created', async () => {
    const socketPath = join(dir, 'missing-dir', 'console.sock');
    let err: NodeJS.ErrnoException | undefined;
    try {
      await receiveFd(socketPath, 1000);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.code).toBe('ENOENT');
    expect(err?.message).toBe(`listen on unix socket ${socketPath}: ENOENT`);
    expect(err?.syscall).toBe('bind');
  });
});
