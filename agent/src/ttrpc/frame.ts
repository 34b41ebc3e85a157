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
  writeFrameHeader(frame, 0, payload.length, streamId, type, flags);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/** Writes a frame's header at `at` in `out`. */
export function writeFrameHeader(out: Buffer, at: number, length: number, streamId: number, type: FrameType, flags: number): void {
  out.writeUInt32BE(length, at);
  out.writeUInt32BE(streamId, at + 4);
  out[at + 8] = type;
  out[at + 9] = flags;
}

export interface FrameSink {
  frame(frame: Frame): void;
  // A frame whose payload exceeds the limit; its payload is skipped, not buffered.
  oversize(header: FrameHeader): void;
}

export class FrameDecoder {
  // Bytes read and not yet delivered: chunks[0] from `offset` on, then the other chunks whole.
  // An offset instead of re-slicing the first chunk: a frame costs one Buffer (its payload).
  private chunks: Buffer[] = [];
  private offset = 0;
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
    this.offset = 0;
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
      // The header in one piece: a chunk boundary inside it joins what is buffered (rare).
      if (this.chunks[0]!.length - this.offset < HEADER_BYTES) this.joinChunks();
      const head = this.chunks[0]!;
      const at = this.offset;
      const length = head.readUInt32BE(at);
      if (length > this.maxPayload) {
        const header: FrameHeader = { length, streamId: head.readUInt32BE(at + 4), type: head[at + 8]!, flags: head[at + 9]! };
        this.skip(HEADER_BYTES);
        const skip = Math.min(length, this.buffered);
        this.skip(skip);
        this.skipping = length - skip;
        this.sink.oversize(header);
        continue;
      }
      if (this.buffered < HEADER_BYTES + length) return;
      const streamId = head.readUInt32BE(at + 4);
      const type = head[at + 8]!;
      const flags = head[at + 9]!;
      this.skip(HEADER_BYTES);
      const payload = this.consume(length);
      this.sink.frame({ length, streamId, type, flags, payload });
    }
  }

  private joinChunks(): void {
    const joined = Buffer.concat(this.offset > 0 ? [this.chunks[0]!.subarray(this.offset), ...this.chunks.slice(1)] : this.chunks);
    this.chunks = [joined];
    this.offset = 0;
  }

  // Drops the first n buffered bytes.
  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const left = this.chunks[0]!.length - this.offset;
      if (left > n) {
        this.offset += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.offset = 0;
    }
  }

  // Takes the first n buffered bytes: a view of the chunk that holds them all, else a copy.
  private consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.buffered -= n;
    const first = this.chunks[0]!;
    const left = first.length - this.offset;
    if (left > n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      return out;
    }
    if (left === n) {
      const out = this.offset === 0 ? first : first.subarray(this.offset);
      this.chunks.shift();
      this.offset = 0;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length - this.offset, n - at);
      c.copy(out, at, this.offset, this.offset + take);
      at += take;
      if (take === c.length - this.offset) {
        this.chunks.shift();
        this.offset = 0;
      } else this.offset += take;
    }
    return out;
  }
}
