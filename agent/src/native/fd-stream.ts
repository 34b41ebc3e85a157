// A Duplex over a stream fd Node cannot wrap itself: connected AF_VSOCK sockets (libuv only
// opens unix, TCP and UDP sockets as streams) and character devices such as a virtio-serial
// port (which fs streams would read with a blocking threadpool call). Non-blocking read/write,
// driven by FdWatch; behaves like net.Socket for end/half-close/destroy.
import { Duplex, type DuplexOptions } from 'node:stream';
import { native } from './addon';
import { FdWatch } from './fd-watch';

const READ_CHUNK = 64 * 1024;

interface PendingWrite {
  chunk: Buffer;
  offset: number;
  done: (err?: Error | null) => void;
}

export interface FdStreamOptions extends Pick<DuplexOptions, 'allowHalfOpen' | 'highWaterMark'> {
  /**
   * Default true: the stream owns the fd and closes it when destroyed. false: the fd stays open
   * for the caller, who serves it with one stream after another (a virtio-serial port, whose
   * close would drop input the host already sent).
   */
  ownsFd?: boolean;
}

export class FdStream extends Duplex {
  /** The fd; closed when the stream is destroyed unless `ownsFd: false` was given. */
  readonly fd: number;
  readonly #ownsFd: boolean;
  #watch: FdWatch;
  #wantRead = false;
  #pending: PendingWrite | null = null;

  constructor(fd: number, options: FdStreamOptions = {}) {
    // Like net.Socket: the end of input ends our output too, unless half-open is asked for.
    const { ownsFd = true, ...duplexOptions } = options;
    super({ allowHalfOpen: false, readableHighWaterMark: READ_CHUNK, ...duplexOptions });
    this.fd = fd;
    this.#ownsFd = ownsFd;
    try {
      native().setNonBlocking(fd);
      this.#watch = new FdWatch(
        fd,
        (ready) => {
          if (ready.readable && this.#wantRead) this.#readAvailable();
          if (ready.writable && this.#pending) this.#writePending();
        },
        (err) => this.destroy(err),
      );
    } catch (err) {
      // No stream to destroy later: an fd it owns is closed now (the caller handed it over).
      if (ownsFd) native().closeFd(fd);
      throw err;
    }
  }

  /** Whether the open stream keeps the process alive (default true, like a socket). */
  setKeepAlive(keep: boolean): this {
    this.#watch.setKeepAlive(keep);
    return this;
  }

  override _read(): void {
    this.#wantRead = true;
    this.#watch.watch({ readable: true });
  }

  #readAvailable(): void {
    const addon = native();
    for (;;) {
      let chunk: Buffer | null | undefined;
      try {
        chunk = addon.readFd(this.fd, READ_CHUNK);
      } catch (err) {
        this.destroy(err as Error);
        return;
      }
      if (chunk === undefined) return; // drained; the watch reports the next data
      if (chunk === null || !this.push(chunk)) {
        // End of input, or the consumer is full: stop watching until _read asks again.
        this.#wantRead = false;
        this.#watch.watch({ readable: false });
        if (chunk === null) this.push(null);
        return;
      }
      // A short read means the kernel had no more (as libuv assumes too); skip the EAGAIN call.
      if (chunk.length < READ_CHUNK) return;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#pending = { chunk, offset: 0, done };
    this.#writePending();
  }

  #writePending(): void {
    const pending = this.#pending;
    if (!pending) return;
    const addon = native();
    try {
      while (pending.offset < pending.chunk.length) {
        const written = addon.writeFd(this.fd, pending.chunk, pending.offset);
        if (written === 0) {
          this.#watch.watch({ writable: true }); // kernel buffer full: continue when it drains
          return;
        }
        pending.offset += written;
      }
    } catch (err) {
      this.#finishWrite(pending, err as Error);
      return;
    }
    this.#finishWrite(pending, null);
  }

  #finishWrite(pending: PendingWrite, err: Error | null): void {
    this.#pending = null;
    this.#watch.watch({ writable: false });
    pending.done(err);
  }

  override _final(done: (err?: Error | null) => void): void {
    try {
      native().shutdownWrite(this.fd);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#watch.close();
    const pending = this.#pending;
    this.#pending = null;
    try {
      if (this.#ownsFd) native().closeFd(this.fd);
    } catch (closeErr) {
      err ??= closeErr as Error;
    }
    pending?.done(err ?? new Error(`write fd ${this.fd}: stream destroyed`));
    done(err);
  }
}
