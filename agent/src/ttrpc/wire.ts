// Just enough protobuf wire format for ttRPC's own envelope messages. The envelope is decoded
// on every call, so it is hand-written rather than going through a reflective codec.

export class ProtoWriter {
  private parts: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(10);

  varint(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.rawVarint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array | string): this {
    const buf = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.tag(field, 2);
    this.rawVarint(buf.length);
    this.parts.push(Buffer.from(buf.buffer, buf.byteOffset, buf.length));
    return this;
  }

  finish(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
  }

  private tag(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  private rawVarint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    let n = 0;
    if (typeof value === 'number' && value >= 0 && value < 0x80000000) {
      let x = value;
      while (x >= 0x80) {
        this.scratch[n++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      this.scratch[n++] = x;
    } else {
      while (v >= 0x80n) {
        this.scratch[n++] = Number(v & 0x7fn) | 0x80;
        v >>= 7n;
      }
      this.scratch[n++] = Number(v);
    }
    this.parts.push(Buffer.from(this.scratch.subarray(0, n)));
  }
}

export class WireFormatError extends Error {}

export interface WireField {
  field: number;
  wireType: number;
  varint?: bigint;
  bytes?: Buffer;
}

// Iterates the top-level fields of a message; unknown wire types 1 and 5 are skipped,
// groups (3, 4) and truncation are errors.
export function* readFields(buf: Buffer): Generator<WireField> {
  let at = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= buf.length) throw new WireFormatError('truncated varint');
      const b = buf[at++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new WireFormatError('varint longer than 10 bytes');
    }
  };
  while (at < buf.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wireType = key & 7;
    if (field === 0) throw new WireFormatError('field number 0');
    switch (wireType) {
      case 0:
        yield { field, wireType, varint: readVarint() };
        break;
      case 1:
        at += 8;
        break;
      case 2: {
        const len = Number(readVarint());
        if (at + len > buf.length) throw new WireFormatError(`field ${field}: length ${len} past the end`);
        yield { field, wireType, bytes: buf.subarray(at, at + len) };
        at += len;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        throw new WireFormatError(`field ${field}: unsupported wire type ${wireType}`);
    }
    if (at > buf.length) throw new WireFormatError('truncated fixed-width field');
  }
}
