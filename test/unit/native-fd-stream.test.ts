// FdStream: the Duplex used for vsock connections and char devices, exercised on a unix socket
// fd that Node does not own (accepted by the addon), against a net.Socket peer.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { FdStream, FdWatch, native } from '../../agent/src/native';
import { isFdOpen } from '../helpers/fds';

const dir = mkdtempSync(join(tmpdir(), 'native-fd-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let socketCount = 0;

/** A raw connected fd (accepted by the addon) and Node's socket at the other end. */
async function connectedPair(): Promise<{ fd: number; peer: net.Socket }> {
  const addon = native();
  const path = join(dir, `s${socketCount++}.sock`);
  const listenFd = addon.unixListen(path, 1);
  const accepted = new Promise<number>((resolve, reject) => {
    const watch = new FdWatch(
      listenFd,
      () => {
        const fd = addon.unixAccept(listenFd);
        if (fd === null) return;
        watch.close();
        addon.closeFd(listenFd);
        resolve(fd);
      },
      reject,
    );
    watch.watch({ readable: true });
  });
  const peer = net.connect(path);
  const [fd] = await Promise.all([accepted, once(peer, 'connect')]);
  return { fd, peer };
}

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

describe('FdStream', () => {
  it('carries data both ways, far more than the socket buffers hold', async () => {
    const { fd, peer } = await connectedPair();
    const stream = new FdStream(fd);
    const closed = once(stream, 'close');
    // Different bytes everywhere, so a lost, repeated or reordered chunk changes the result.
    const toPeer = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < toPeer.length; i += 4) toPeer.writeUInt32LE(i, i);
    const fromPeer = Buffer.from(toPeer).reverse();

    const peerGot = collect(peer);
    const streamGot = collect(stream);
    stream.end(toPeer);
    peer.end(fromPeer);
    expect((await peerGot).equals(toPeer)).toBe(true);
    expect((await streamGot).equals(fromPeer)).toBe(true);
    await closed;
    expect(isFdOpen(fd)).toBe(false);
  });

  it('waits for a paused reader instead of dropping or spinning (writes resume on writability)', async () => {
    const { fd, peer } = await connectedPair();
    const stream = new FdStream(fd);
    const closed = once(stream, 'close');
    stream.resume(); // consume our readable side so that the peer's EOF can end it
    peer.pause();
    const payload = Buffer.alloc(4 * 1024 * 1024, 0x5a);
    let finished = false;
    const written = new Promise<void>((resolve) => stream.end(payload, () => ((finished = true), resolve())));
    // The kernel buffers are far smaller than 4 MiB: the write cannot finish until the peer reads.
    await new Promise((resolve) => setImmediate(resolve));
    expect(finished).toBe(false);
    const got = collect(peer);
    peer.resume();
    await written;
    expect((await got).length).toBe(payload.length);
    peer.end();
    await closed;
  });

  it('ends its readable side at EOF and, like net.Socket, ends its writable side too', async () => {
    const { fd, peer } = await connectedPair();
    const stream = new FdStream(fd);
    const closed = once(stream, 'close');
    const streamGot = collect(stream);
    const peerGot = collect(peer);
    peer.end('bye');
    expect((await streamGot).toString()).toBe('bye');
    expect((await peerGot).length).toBe(0); // our side was shut down after their EOF
    await closed;
    expect(isFdOpen(fd)).toBe(false);
  });

  it('with allowHalfOpen keeps writing after the peer has finished', async () => {
    const { fd, peer } = await connectedPair();
    const stream = new FdStream(fd, { allowHalfOpen: true });
    const peerGot = collect(peer);
    peer.end();
    await collect(stream);
    stream.end('still here');
    expect((await peerGot).toString()).toBe('still here');
  });

  it('destroy closes the fd and the peer sees the end', async () => {
    const { fd, peer } = await connectedPair();
    const stream = new FdStream(fd);
    const peerGot = collect(peer);
    const closed = once(stream, 'close');
    stream.destroy();
    await closed;
    expect(isFdOpen(fd)).toBe(false);
    expect((await peerGot).length).toBe(0);
  });

  it('reports a write to a closed peer as an error naming the fd', async () => {
    const { fd, peer } = await connectedPair();
    const stream = new FdStream(fd, { allowHalfOpen: true });
    peer.destroy();
    await once(peer, 'close');
    const failed = new Promise<NodeJS.ErrnoException>((resolve) => stream.on('error', resolve));
    // The first write may still land in the socket buffer before the reset is seen; keep writing.
    const writeUntilError = (): void => {
      if (!stream.destroyed) stream.write(Buffer.alloc(65536), () => setImmediate(writeUntilError));
    };
    writeUntilError();
    const err = await failed;
    expect(err.code).toMatch(/^(EPIPE|ECONNRESET)$/);
    expect(err.message).toBe(`write fd ${fd}: ${err.code}`);
    expect(err.syscall).toBe('write');
  });

  it('works on an fd that is not a socket (a FIFO here, a virtio-serial char device in the guest)', async () => {
    const fifo = join(dir, 'loop.fifo');
    execFileSync('mkfifo', [fifo]);
    // Opened read-write, a FIFO hands back what is written to it.
    const stream = new FdStream(openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK), { allowHalfOpen: true });
    const got = new Promise<string>((resolve) => stream.once('data', (c: Buffer) => resolve(c.toString())));
    stream.write('loop');
    expect(await got).toBe('loop');
    const finished = once(stream, 'finish');
    stream.end(); // shutdown(2) does not apply to a FIFO: ending must still succeed
    await finished;
    const closed = once(stream, 'close');
    stream.destroy();
    await closed;
  });

  it('throws for an fd it cannot watch, closing it when it was handed over (no stream would ever close it)', () => {
    // epoll refuses a regular file (EPERM), as it would any fd when out of memory (ENOMEM).
    const file = join(dir, 'plain.txt');
    writeFileSync(file, 'x');
    const owned = openSync(file, 'r');
    expect(() => new FdStream(owned)).toThrow(expect.objectContaining({ code: 'EPERM' }));
    expect(isFdOpen(owned)).toBe(false);
    const borrowed = openSync(file, 'r');
    try {
      expect(() => new FdStream(borrowed, { ownsFd: false })).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(isFdOpen(borrowed)).toBe(true);
    } finally {
      closeSync(borrowed);
    }
  });
});
