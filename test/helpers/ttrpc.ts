// Shared helpers for ttRPC tests: a server on a temp unix socket, raw frame I/O.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FrameDecoder, type Frame } from '../../agent/src/ttrpc/frame';
import { TtrpcClient, TtrpcServer, type ServerOptions } from '../../agent/src/ttrpc';

export interface ServerFixture {
  server: TtrpcServer;
  address: string;
  socketPath: string;
  client(): Promise<TtrpcClient>;
  close(): Promise<void>;
}

export async function startServer(setup: (server: TtrpcServer) => void, opts?: ServerOptions): Promise<ServerFixture> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ttrpc-test-'));
  const socketPath = path.join(dir, 's.sock');
  const server = new TtrpcServer(opts);
  setup(server);
  const address = `unix://${socketPath}`;
  await server.listen(address);
  const clients: TtrpcClient[] = [];
  return {
    server,
    address,
    socketPath,
    async client() {
      const c = await TtrpcClient.connect(address);
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw connection that writes arbitrary bytes and collects decoded frames. */
export class RawConnection {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    const decoder = new FrameDecoder({
      frame: (f) => {
        this.frames.push(f);
        this.wake();
      },
      oversize: () => undefined,
    }, 64 << 20);
    socket.on('data', (c: Buffer) => decoder.push(c));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(socketPath: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ path: socketPath }, () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async waitFrames(n: number, timeoutMs = 10_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      if (this.closed) throw new Error(`connection closed after ${this.frames.length} of ${n} frames`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} frames (got ${this.frames.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.frames.slice(0, n);
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
