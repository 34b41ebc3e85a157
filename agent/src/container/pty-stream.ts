// The master side of a container's terminal as a Duplex. Unlike a socket, a pty master reports
// the end of output as EIO once the last slave fd closes; that is the end of the stream here,
// after everything the process wrote before it has been delivered.
import { Duplex } from 'node:stream';
import { native } from '../native/addon';
import { FdWatch } from '../native/fd-watch';

const READ_CHUNK = 64 * 1024;

export class PtyStream extends Duplex {
  readonly fd: number;
  #watch: FdWatch;
  #wantRead = false;
  #readEnded = false;
  #pending: { chunk: Buffer; offset: number; done: (err?: Error | null) => void } | null = null;

  constructor(fd: number) {
    super({ allowHalfOpen: true, readableHighWaterMark: READ_CHUNK });
    native().setNonBlocking(fd);
    this.fd = fd;
    this.#watch = new FdWatch(
      fd,
      (ready) => {
        if (ready.readable && this.#wantRead) this.#readAvailable();
        if (ready.writable && this.#pending) this.#writePending();
      },
      (err) => this.#endRead(err),
    );
  }

  override _read(): void {
    if (this.#readEnded) return;
    this.#wantRead = true;
    this.#watch.watch({ readable: true });
  }

  #readAvailable(): void {
    for (;;) {
      let chunk: Buffer | null | undefined;
      try {
        chunk = native().readFd(this.fd, READ_CHUNK);
      } catch (err) {
        this.#endRead(err as Error);
        return;
      }
      if (chunk === undefined) return;
      if (chunk === null) return this.#endRead();
      if (!this.push(chunk)) {
        this.#wantRead = false;
        this.#watch.watch({ readable: false });
        return;
      }
    }
  }

  /** EIO (slave side gone) and hang-ups end the output; anything else is logged by the owner. */
  #endRead(err?: Error): void {
    if (this.#readEnded) return;
    this.#readEnded = true;
    this.#wantRead = false;
    if (!this.#watch.closed) this.#watch.watch({ readable: false });
    if (err && (err as NodeJS.ErrnoException).code !== 'EIO') this.emit('readError', err);
    this.push(null);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#pending = { chunk, offset: 0, done };
    this.#writePending();
  }

  #writePending(): void {
    const p = this.#pending;
    if (!p) return;
    try {
      while (p.offset < p.chunk.length) {
        const n = native().writeFd(this.fd, p.chunk, p.offset);
        if (n === 0) {
          this.#watch.watch({ writable: true });
          return;
        }
        p.offset += n;
      }
    } catch (err) {
      this.#pending = null;
      this.#watch.watch({ writable: false });
      p.done(err as Error);
      return;
    }
    this.#pending = null;
    this.#watch.watch({ writable: false });
    p.done(null);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#watch.close();
    const p = this.#pending;
    this.#pending = null;
    try {
      native().closeFd(this.fd);
    } catch {
      // closing a pty master cannot fail in a way worth reporting
    }
    p?.done(err ?? new Error(`write pty ${this.fd}: stream destroyed`));
    done(err);
  }
}
