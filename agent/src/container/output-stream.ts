// The pull side of a process's stdout/stderr (ReadStdout/ReadStderr): each read returns what is
// there, up to `len`, waiting for data if none; once the output has ended and every byte was
// taken, a read fails with EndOfOutput. The end is an error, never an empty reply: Kata's
// runtime-go before 3.27 copies an empty reply as "0 bytes, no error" and calls again forever,
// while every runtime (runtime-go of any release, runtime-rs) ends its copy on an error.
// The stream stays paused between reads, so a process whose output nobody reads blocks on a full
// pipe instead of growing the agent's memory.
import type { Readable } from 'node:stream';

/** The stream has ended and everything in it was read. */
export class EndOfOutput extends Error {
  constructor(readonly what: string) {
    super(`EOF: ${what} has ended`);
    this.name = 'EndOfOutput';
  }
}
/** A read with len 0 gets at most this much (a ttRPC reply carries up to 4 MiB). */
const DEFAULT_READ = 1024 * 1024;
/** What the agent holds of one stream's unread output at most. */
const BUFFER_BYTES = 1024 * 1024;

export class OutputStream {
  #ended = false;
  #eofDelivered = false;
  #leftover: Buffer | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(readonly stream: Readable) {
    // Let the stream buffer up to one full reply between reads (a socket defaults to 16 KiB),
    // so that a reader gets large replies and few round trips; still a fixed bound.
    const state = (stream as unknown as { _readableState?: { highWaterMark: number } })._readableState;
    if (state && state.highWaterMark < BUFFER_BYTES) state.highWaterMark = BUFFER_BYTES;
    const end = (): void => {
      this.#ended = true;
    };
    stream.once('end', end);
    stream.once('close', end);
    // A reset pipe or a pty hang-up is the end of output, not an agent failure.
    stream.on('error', end);
    // The stream may have started reading before we raised its mark, and stopped at the old
    // one: nothing would start it again before a read, so a process writing more than the pipe
    // holds would block, and one waited for before it is read (WaitProcess first) never exit.
    // read(0) takes nothing; it lets the stream fill up to the new mark.
    stream.read(0);
  }

  /** True once a reader has been told end of output (EndOfOutput). */
  get drained(): boolean {
    return this.#eofDelivered;
  }

  /** Up to `len` bytes (at least one); rejects with EndOfOutput, naming `what`, at the end. */
  read(len: number, what: string): Promise<Buffer> {
    const max = len > 0 ? len : DEFAULT_READ;
    const result = this.#queue.then(() => this.#readNow(max, what));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #readNow(max: number, what: string): Promise<Buffer> {
    for (;;) {
      const data = this.#take(max);
      if (data.length > 0) return data;
      if (this.#ended || this.stream.destroyed || this.stream.readableEnded) {
        this.#eofDelivered = true;
        throw new EndOfOutput(what);
      }
      await this.#dataOrEnd();
    }
  }

  /** Whatever is buffered now, up to `max` bytes, in one reply (fewer round trips). */
  #take(max: number): Buffer {
    const parts: Buffer[] = [];
    let size = 0;
    while (size < max) {
      let chunk: Buffer | null = this.#leftover;
      this.#leftover = null;
      if (chunk === null && !this.stream.destroyed) chunk = this.stream.read() as Buffer | null;
      if (chunk === null || chunk.length === 0) break;
      if (size + chunk.length > max) {
        this.#leftover = chunk.subarray(max - size);
        chunk = chunk.subarray(0, max - size);
      }
      parts.push(chunk);
      size += chunk.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
  }

  #dataOrEnd(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('readable', done);
        this.stream.off('end', done);
        this.stream.off('close', done);
        this.stream.off('error', done);
        resolve();
      };
      this.stream.on('readable', done);
      this.stream.on('end', done);
      this.stream.on('close', done);
      this.stream.on('error', done);
    });
  }

  destroy(): void {
    this.#ended = true;
    this.stream.destroy();
  }
}
