// The push side of a process's stdin (WriteStdin/CloseStdin).
import type { Writable } from 'node:stream';

export class InputStream {
  #closed = false;

  constructor(
    readonly stream: Writable,
    /** For a terminal, closing means sending end-of-file (^D); the pty itself stays open. */
    private readonly terminal = false,
  ) {
    stream.on('error', () => {
      this.#closed = true; // the reader went away: later writes fail with a clear error
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes all of `data`; resolves with its length once the kernel took it. */
  write(data: Buffer, what: string): Promise<number> {
    if (data.length === 0) {
      this.close();
      return Promise.resolve(0);
    }
    if (this.#closed || this.stream.destroyed || this.stream.writableEnded) {
      return Promise.reject(Object.assign(new Error(`write stdin of ${what}: stdin is closed`), { code: 'EPIPE' }));
    }
    return new Promise((resolve, reject) => {
      this.stream.write(data, (err) => (err ? reject(new Error(`write stdin of ${what}: ${err.message}`)) : resolve(data.length)));
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.terminal) this.stream.write(Buffer.from([4]));
    else this.stream.end();
  }

  destroy(): void {
    this.#closed = true;
    if (!this.terminal) this.stream.destroy();
  }
}
