// Netlink attributes (struct rtattr / nlattr): 2-byte length (header + value, unpadded),
// 2-byte type, the value, then padding to a 4-byte boundary. Nested attributes are attributes
// whose value is itself a run of attributes. Host byte order (little-endian on our targets).
import { NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK } from './constants';

export const align4 = (n: number): number => (n + 3) & ~3;

export interface Attribute {
  /** The type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits. */
  type: number;
  /** The value bytes, unpadded (a view into the datagram). */
  value: Buffer;
}

// ---- encoding ----

export function encodeAttribute(type: number, value: Buffer): Buffer {
  const length = NLA_HDRLEN + value.length;
  if (length > 0xffff) throw new RangeError(`netlink attribute ${type}: value of ${value.length} bytes is too long`);
  const out = Buffer.alloc(align4(length));
  out.writeUInt16LE(length, 0);
  out.writeUInt16LE(type, 2);
  value.copy(out, NLA_HDRLEN);
  return out;
}

export const u8Attribute = (type: number, v: number): Buffer => encodeAttribute(type, Buffer.from([v & 0xff]));

export function u32Attribute(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return encodeAttribute(type, b);
}

/** A C string: the kernel expects the terminating NUL inside the attribute. */
export const stringAttribute = (type: number, s: string): Buffer =>
  encodeAttribute(type, Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]));

/**
 * An attribute holding `children` (already encoded attributes). rtnetlink's older nests
 * (IFLA_LINKINFO ...) are sent without NLA_F_NESTED, as iproute2 does; newer policies may want it.
 */
export function nestedAttribute(type: number, children: Buffer[], opts: { nestedFlag?: boolean } = {}): Buffer {
  return encodeAttribute(opts.nestedFlag ? type | NLA_F_NESTED : type, Buffer.concat(children));
}

// ---- decoding ----

/** Parses the attributes in `buf[start, end)`; throws on a length that leaves the range. */
export function parseAttributes(buf: Buffer, start = 0, end = buf.length): Attribute[] {
  const out: Attribute[] = [];
  let off = start;
  while (off + NLA_HDRLEN <= end) {
    const length = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (length < NLA_HDRLEN || off + length > end) {
      throw new Error(`malformed netlink attribute at offset ${off}: length ${length}, ${end - off} bytes left`);
    }
    out.push({ type, value: buf.subarray(off + NLA_HDRLEN, off + length) });
    off += align4(length);
  }
  return out;
}

/** Attributes by type, with typed readers. The first occurrence of a type wins. */
export class Attributes {
  readonly list: Attribute[];
  readonly #byType = new Map<number, Buffer>();

  constructor(list: Attribute[]) {
    this.list = list;
    for (const a of list) if (!this.#byType.has(a.type)) this.#byType.set(a.type, a.value);
  }

  static parse(buf: Buffer, start = 0, end = buf.length): Attributes {
    return new Attributes(parseAttributes(buf, start, end));
  }

  has(type: number): boolean {
    return this.#byType.has(type);
  }

  bytes(type: number): Buffer | undefined {
    return this.#byType.get(type);
  }

  u8(type: number): number | undefined {
    const v = this.#byType.get(type);
    return v && v.length >= 1 ? v.readUInt8(0) : undefined;
  }

  u32(type: number): number | undefined {
    const v = this.#byType.get(type);
    return v && v.length >= 4 ? v.readUInt32LE(0) : undefined;
  }

  /** A C string attribute, without its NUL. */
  string(type: number): string | undefined {
    const v = this.#byType.get(type);
    if (!v) return undefined;
    const nul = v.indexOf(0);
    return v.toString('utf8', 0, nul === -1 ? v.length : nul);
  }

  nested(type: number): Attributes | undefined {
    const v = this.#byType.get(type);
    return v ? Attributes.parse(v) : undefined;
  }
}
