// A framed, bidirectional channel over any connected byte stream (unix, vsock, serial).
import type { Duplex } from 'node:stream';
import { encodeFrame, type Frame, FrameDecoder, type FrameHeader, FrameType, MAX_PAYLOAD_BYTES } from './frame';

export interface ChannelEvents {
  frame(frame: Frame): void;
  oversize(header: FrameHeader): void;
  closed(err?: Error): void;
}

export class Channel {
  private readonly decoder: FrameDecoder;
  private isClosed = false;
  private drainWaiters: Array<() => void> = [];
  private corked = false;
  private paused = false;

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
    return this.socket.writableLength;
  }

  /**
   * Sends one frame whose payload is `payload` followed by `tail`: a large tail (an answer's
   * bytes) is written as it is, not copied into the frame.
   */
  send(streamId: number, type: FrameType, flags: number, payload: Uint8Array, tail?: Uint8Array): boolean {
    if (this.isClosed || this.socket.destroyed) return false;
    // Frames sent in the same tick leave in one writev instead of one syscall each.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    if (!tail || tail.length === 0) return this.socket.write(encodeFrame(streamId, type, flags, payload));
    const head = encodeFrame(streamId, type, flags, payload);
    head.writeUInt32BE(payload.length + tail.length, 0);
    this.socket.write(head);
    return this.socket.write(tail);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /** Resolves once the socket's write queue has drained (or the channel closed). */
  drained(): Promise<void> {
    if (this.isClosed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Takes no more frames: the decoder stops delivering (the rest of the last chunk read stays
   * buffered) and the socket stops reading, so the kernel's buffer fills and the peer's writes
   * stall. ttRPC has no flow control of its own; this is it.
   */
  pause(): void {
    this.paused = true;
    this.decoder.pause();
    this.socket.pause();
  }

  /** Delivers the frames still buffered (the receiver may pause again meanwhile), then reads on. */
  resume(): void {
    if (this.isClosed) return;
    this.paused = false;
    this.decoder.resume();
    if (!this.paused && !this.isClosed) this.socket.resume();
  }

  destroy(err?: Error): void {
    this.socket.destroy();
    this.finish(err);
  }

  private finish(err?: Error): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.decoder.clear();
    for (const w of this.drainWaiters) w();
    this.drainWaiters = [];
    this.events.closed(err);
  }
}
