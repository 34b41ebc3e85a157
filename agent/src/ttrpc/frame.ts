// Framing only: the 10-byte header, encoding frames, and an incremental decoder that never
// holds more than one frame (and never an oversized one) in memory.

export const HEADER_BYTES = 10;
export const MAX_PAYLOAD_BYTES = 4 << 20;

export enum FrameType {
  Request = 1,
  Response = 2,
  Data = 3,
}

export const Flag = {
  RemoteClosed: 0x1,
  RemoteOpen: 0x2,
  NoData: 0x4,
} as const;

export interface FrameHeader {
  length: number; // payload bytes, big-endian u32 on the wire
  streamId: number; // big-endian u32; odd when the client opened the stream
  type: number; // FrameType; unknown types are passed up and ignored there
  flags: number; // Flag bits, meaning depends on type
}

export interface Frame extends FrameHeader {
  payload: Buffer;
}

export function encodeFrame(streamId: number, type: FrameType, flags: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt32BE(streamId, 4);
  frame[8] = type;
  frame[9] = flags;
  frame.set(payload, HEADER_BYTES);
  return frame;
}

export interface FrameSink {
  frame(frame: Frame): void;
  // A frame whose payload exceeds the limit; its payload is skipped, not buffered.
  oversize(header: FrameHeader): void;
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private skipping = 0; // payload bytes of an oversized frame still to discard
  private paused = false; // frames stay buffered: the receiver takes no more for now
  private draining = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly maxPayload = MAX_PAYLOAD_BYTES,
  ) {}

  /** Bytes held while waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Delivers no more frames (the one being delivered finishes) until resume(): bytes already
   * pushed stay buffered, so a paused receiver holds at most what its socket last read.
   */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.drain();
  }

  /** Drops every buffered byte (the connection is gone). */
  clear(): void {
    this.chunks = [];
    this.buffered = 0;
    this.skipping = 0;
  }

  push(chunk: Buffer): void {
    if (this.skipping > 0) {
      const skip = Math.min(this.skipping, chunk.length);
      this.skipping -= skip;
      chunk = chunk.subarray(skip);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.drain();
  }

  private drain(): void {
    // A sink that resumes from inside a delivery continues this loop, not a nested one.
    if (this.draining) return;
    this.draining = true;
    try {
      this.deliverFrames();
    } finally {
      this.draining = false;
    }
  }

  private deliverFrames(): void {
    while (!this.paused && this.buffered >= HEADER_BYTES) {
      const head = this.peek(HEADER_BYTES);
      const header: FrameHeader = {
        length: head.readUInt32BE(0),
        streamId: head.readUInt32BE(4),
        type: head[8]!,
        flags: head[9]!,
      };
      if (header.length > this.maxPayload) {
        this.consume(HEADER_BYTES);
        const skip = Math.min(header.length, this.buffered);
        this.consume(skip);
        this.skipping = header.length - skip;
        this.sink.oversize(header);
        continue;
      }
      if (this.buffered < HEADER_BYTES + header.length) return;
      this.consume(HEADER_BYTES);
      const payload = this.consume(header.length);
      this.sink.frame({ ...header, payload });
    }
  }

  // Returns the first n buffered bytes without consuming them.
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length, n - at);
      c.copy(out, at, 0, take);
      at += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    return out;
  }
}
