// Just enough protobuf wire format for ttRPC's own envelope messages. The envelope is decoded
// on every call, so it is hand-written rather than going through a reflective codec.
import { WireWriter } from '../proto/writer';

/** ttRPC's envelope fields: varints (64-bit as bigints too) and length-delimited text or bytes. */
export class ProtoWriter {
  private readonly w: WireWriter;

  constructor(sizeHint = 64) {
    this.w = new WireWriter(sizeHint);
  }

  varint(field: number, value: number | bigint): this {
    this.w.tag(field, 0);
    if (typeof value === 'number' && value >= 0 && value <= 0xffffffff) this.w.varint32(value);
    // Negative int32/int64 values take all ten bytes (two's complement), as protobuf requires.
    else this.w.varint64From(BigInt.asUintN(64, BigInt(value)));
    return this;
  }

  bytes(field: number, value: Uint8Array | string): this {
    this.w.tag(field, 2);
    if (typeof value === 'string') this.w.string(value);
    else this.w.bytes(value);
    return this;
  }

  finish(): Buffer {
    return this.w.finish();
  }
}

export class WireFormatError extends Error {}

/**
 * The text of the bytes last decoded through it: a connection's calls mostly name the same
 * service and method again, so the string is made once instead of for every call.
 */
export class TextCache {
  private last: Buffer = Buffer.alloc(0);
  private lastText = '';

  text(buf: Buffer, start: number, end: number): string {
    const n = end - start;
    const last = this.last;
    if (last.length === n) {
      let i = 0;
      while (i < n && last[i] === buf[start + i]) i++;
      if (i === n) return this.lastText;
    }
    const text = buf.toString('utf8', start, end);
    if (n <= 128) {
      this.last = Buffer.from(buf.subarray(start, end));
      this.lastText = text;
    }
    return text;
  }
}

/** Reads the fields of one message in order; no allocation per field beyond subarrays. */
export class ProtoReader {
  private at = 0;
  field = 0;
  wireType = 0;

  constructor(private readonly buf: Buffer) {}

  /** Advances to the next field; false at the end of the message. */
  next(): boolean {
    if (this.at >= this.buf.length) return false;
    const key = this.uint32();
    this.field = key >>> 3;
    this.wireType = key & 7;
    if (this.field === 0) throw new WireFormatError('field number 0');
    return true;
  }

  /** A varint that must fit 32 bits (field keys, lengths, status codes). */
  uint32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.at >= this.buf.length) throw new WireFormatError('truncated varint');
      const b = this.buf[this.at++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result >>> 0;
    }
    // Wider values (e.g. a negative int32 sign-extended to ten bytes) keep their low 32 bits.
    this.at -= 5;
    return Number(BigInt.asUintN(32, this.varint64()));
  }

  varint64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.at >= this.buf.length) throw new WireFormatError('truncated varint');
      const b = this.buf[this.at++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new WireFormatError('varint longer than 10 bytes');
    }
  }

  /** A length-delimited field's text, without a view of its bytes; `cache` keeps repeated names. */
  string(cache?: TextCache): string {
    const len = this.uint32();
    if (this.at + len > this.buf.length) throw new WireFormatError(`field ${this.field}: length ${len} past the end`);
    const start = this.at;
    this.at += len;
    return cache ? cache.text(this.buf, start, this.at) : this.buf.toString('utf8', start, this.at);
  }

  bytes(): Buffer {
    const len = this.uint32();
    if (this.at + len > this.buf.length) throw new WireFormatError(`field ${this.field}: length ${len} past the end`);
    const out = this.buf.subarray(this.at, this.at + len);
    this.at += len;
    return out;
  }

  /** Skips the current field's value (unknown fields are allowed). */
  skip(): void {
    switch (this.wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.at += 8;
        break;
      case 2:
        this.bytes();
        return;
      case 5:
        this.at += 4;
        break;
      default:
        throw new WireFormatError(`field ${this.field}: unsupported wire type ${this.wireType}`);
    }
    if (this.at > this.buf.length) throw new WireFormatError('truncated fixed-width field');
  }

  /** Checks the current field has the wire type the schema expects. */
  expect(wireType: number, what: string): void {
    if (this.wireType !== wireType) throw new WireFormatError(`${what} (field ${this.field}) has wire type ${this.wireType}, expected ${wireType}`);
  }
}
