// A framed, bidirectional channel over any connected byte stream (unix, vsock, serial).
import type { Duplex } from 'node:stream';
import { type Frame, FrameDecoder, type FrameHeader, FrameType, HEADER_BYTES, MAX_PAYLOAD_BYTES, writeFrameHeader } from './frame';

/** Bytes read but not yet decoded that a paused channel holds before it stops reading. */
const MAX_BACKLOG_BYTES = 64 << 10;

/** A payload this long is written as it is; shorter ones are copied into the tick's batch. */
const COPY_BELOW_BYTES = 16 << 10;

/** The buffer a connection puts a tick's frames together in: its first size, and its largest. */
const MIN_SCRATCH_BYTES = 4 << 10;
const MAX_SCRATCH_BYTES = 64 << 10;

export interface ChannelEvents {
  frame(frame: Frame): void;
  oversize(header: FrameHeader): void;
  closed(err?: Error): void;
}

export class Channel {
  private readonly decoder: FrameDecoder;
  private isClosed = false;
  private drainWaiters: Array<() => void> = [];
  // This tick's frames: full buffers in `batched`, the one being filled in `out`.
  private batched: Buffer[] = [];
  private batchedBytes = 0;
  private scratch = Buffer.alloc(0);
  private outBytes = 0;
  private flushScheduled = false;
  private paused = false;
  private socketPaused = false;

  constructor(
    readonly socket: Duplex,
    private readonly events: ChannelEvents,
    readonly maxPayload = MAX_PAYLOAD_BYTES,
  ) {
    this.decoder = new FrameDecoder(events, maxPayload);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk);
      } catch (err) {
        this.destroy(err as Error);
        return;
      }
      if (this.paused && !this.socketPaused && this.decoder.bufferedBytes >= MAX_BACKLOG_BYTES) {
        this.socketPaused = true;
        this.socket.pause();
      }
    });
    socket.on('drain', () => {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    });
    socket.on('error', (err) => this.finish(err));
    socket.on('close', () => this.finish());
    socket.on('end', () => socket.end());
    // The socket may have been paused by whoever looked at its first bytes.
    socket.resume();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Bytes queued in the socket and not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.socket.writableLength + this.batchedBytes;
  }

  /**
   * Sends one frame whose payload is `payload` followed by `tail`: a large tail (an answer's
   * bytes) is written as it is, not copied. Returns false once the caller should wait for drained().
   */
  send(streamId: number, type: FrameType, flags: number, payload: Uint8Array, tail?: Uint8Array): boolean {
    if (this.isClosed || this.socket.destroyed) return false;
    const tailBytes = tail ? tail.length : 0;
    writeFrameHeader(this.room(HEADER_BYTES), this.outBytes, payload.length + tailBytes, streamId, type, flags);
    this.outBytes += HEADER_BYTES;
    this.batchedBytes += HEADER_BYTES;
    this.append(payload, true);
    if (tailBytes > 0) this.append(tail!, false);
    return this.queuedBytes < this.socket.writableHighWaterMark;
  }

  // A large part leaves in a write of its own: the tail as it is (an answer the handler is done
  // with), the payload copied (a caller may reuse its buffer once send() returns).
  private append(part: Uint8Array, copyLarge: boolean): void {
    if (part.length >= COPY_BELOW_BYTES) {
      this.flush();
      this.socket.write(copyLarge ? Buffer.from(part) : part);
      return;
    }
    this.room(part.length).set(part, this.outBytes);
    this.outBytes += part.length;
    this.batchedBytes += part.length;
  }

  // Frames sent in the same tick leave in one write of one buffer: one syscall, and one entry in
  // the socket's queue when the peer reads slowly (a queued write costs far more memory than
  // the few bytes of a small answer). They are put together in the channel's own buffer and
  // copied out once per write, not one buffer per frame. Returns it with room for n more bytes.
  private room(n: number): Buffer {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
    if (this.scratch.length - this.outBytes >= n) return this.scratch;
    if (this.outBytes + n > MAX_SCRATCH_BYTES && this.outBytes > 0) this.batched.push(this.takeScratch());
    if (this.scratch.length - this.outBytes < n) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.scratch.length * 2, this.outBytes + n, MIN_SCRATCH_BYTES));
      this.scratch.copy(bigger, 0, 0, this.outBytes);
      this.scratch = bigger;
    }
    return this.scratch;
  }

  // What the scratch buffer holds, as a buffer of its own: the socket may keep what it is given.
  private takeScratch(): Buffer {
    const out = Buffer.allocUnsafe(this.outBytes);
    this.scratch.copy(out, 0, 0, this.outBytes);
    this.outBytes = 0;
    return out;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.outBytes > 0) this.batched.push(this.takeScratch());
    if (this.batched.length === 0) return;
    const out = this.batched.length === 1 ? this.batched[0]! : Buffer.concat(this.batched, this.batchedBytes);
    this.batched = [];
    this.batchedBytes = 0;
    if (!this.isClosed && !this.socket.destroyed) this.socket.write(out);
  };

  /** Resolves once the socket's write queue has drained (or the channel closed). */
  drained(): Promise<void> {
    this.flush();
    if (this.isClosed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Takes no more frames: the decoder stops delivering (what was read stays buffered) and once
   * MAX_BACKLOG_BYTES wait in it the socket stops reading, so the kernel's buffer fills and the
   * peer's writes stall. ttRPC has no flow control of its own; this is it. (The socket goes on
   * reading up to the backlog so that a receiver that pauses and resumes at every call does not
   * stop and restart the socket each time.)
   */
  pause(): void {
    this.paused = true;
    this.decoder.pause();
    if (this.decoder.bufferedBytes >= MAX_BACKLOG_BYTES && !this.socketPaused) {
      this.socketPaused = true;
      this.socket.pause();
    }
  }

  /** Delivers the frames still buffered (the receiver may pause again meanwhile), then reads on. */
  resume(): void {
    if (this.isClosed) return;
    this.paused = false;
    this.decoder.resume();
    if (!this.paused && !this.isClosed && this.socketPaused) {
      this.socketPaused = false;
      this.socket.resume();
    }
  }

  destroy(err?: Error): void {
    this.socket.destroy();
    this.finish(err);
  }

  private finish(err?: Error): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.decoder.clear();
    this.batched = [];
    this.batchedBytes = 0;
    this.outBytes = 0;
    for (const w of this.drainWaiters) w();
    this.drainWaiters = [];
    this.events.closed(err);
  }
}
