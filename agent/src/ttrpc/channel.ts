// A framed, bidirectional channel over any connected byte stream (unix, vsock, serial).
import type { Duplex } from 'node:stream';
import { encodeFrame, type Frame, FrameDecoder, type FrameHeader, FrameType, MAX_PAYLOAD_BYTES } from './frame';

/** Bytes read but not yet decoded that a paused channel holds before it stops reading. */
const MAX_BACKLOG_BYTES = 64 << 10;

/** A payload this long is written as it is; shorter ones are copied into the tick's batch. */
const COPY_BELOW_BYTES = 16 << 10;

export interface ChannelEvents {
  frame(frame: Frame): void;
  oversize(header: FrameHeader): void;
  closed(err?: Error): void;
}

export class Channel {
  private readonly decoder: FrameDecoder;
  private isClosed = false;
  private drainWaiters: Array<() => void> = [];
  private batched: Buffer[] = [];
  private batchedBytes = 0;
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
   * bytes) is written as it is, not copied into the frame. Returns false once the caller should
   * wait for drained().
   */
  send(streamId: number, type: FrameType, flags: number, payload: Uint8Array, tail?: Uint8Array): boolean {
    if (this.isClosed || this.socket.destroyed) return false;
    const head = encodeFrame(streamId, type, flags, payload);
    if (tail && tail.length > 0) head.writeUInt32BE(payload.length + tail.length, 0);
    this.batch(head);
    if (tail && tail.length > 0) {
      if (tail.length < COPY_BELOW_BYTES) this.batch(Buffer.from(tail.buffer, tail.byteOffset, tail.length));
      else {
        this.flush();
        this.socket.write(tail);
      }
    }
    return this.queuedBytes < this.socket.writableHighWaterMark;
  }

  // Frames sent in the same tick leave in one write of one buffer: one syscall, and one entry in
  // the socket's queue when the peer reads slowly (a queued write costs far more memory than
  // the few bytes of a small answer).
  private batch(bytes: Buffer): void {
    this.batched.push(bytes);
    this.batchedBytes += bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
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
    for (const w of this.drainWaiters) w();
    this.drainWaiters = [];
    this.events.closed(err);
  }
}
