// Node's snapshot blob file (what `node --build-snapshot` writes), read only as far as needed to
// keep the compiled bytecode of a code-cached build while dropping the part of it that ties the
// blob to the build machine's CPU.
//
// Node builds a blob one of two ways. "Without code cache", V8 discards every function's bytecode
// (functions are compiled again, from source, at each start) and Node loads the blob anywhere.
// With code cache, V8 keeps the bytecode of every function that ran while building (Node's own
// bootstrap, the agent's module set-up, the schema parser), and Node adds a code cache of its
// built-in modules. That cache is tagged with the V8 flags and the CPU features of the build
// machine, so Node refuses the whole blob on another CPU model (a KVM host of another generation,
// QEMU's TCG models). Bytecode does not depend on the CPU; only that cache does. So the image
// builder builds with code cache, drops the cache, and marks the blob "without code cache": Node
// then loads it anywhere and V8 still finds the bytecode.
//
// File layout (little-endian, size_t = 8 bytes on the 64-bit builds we ship):
//   u32 magic
//   metadata: u8 type, string node version, string arch, string platform (each size_t length +
//             bytes), u32 V8 cache version tag, u32 flags (bit 0: without code cache)
//   i32 size + V8 startup data
//   isolate data and environment records (not parsed here)
//   vector of code cache entries, last: size_t count, then per entry a string (module id) and
//   size_t length + bytes (the cache)

/** Bit 0 of the metadata's flags: Node then skips its CPU and V8-flags check of the blob. */
const WITHOUT_CODE_CACHE = 1;
const MAGIC = 0x0143da19;

export interface SnapshotBlobLayout {
  nodeVersion: string;
  flagsOffset: number;
  flags: number;
  /** Where the code cache vector starts; the file ends with it. */
  codeCacheOffset: number;
  codeCacheEntries: number;
}

export class SnapshotBlobError extends Error {}

export function readSnapshotLayout(blob: Buffer): SnapshotBlobLayout {
  const reader = new Reader(blob);
  if (reader.u32() !== MAGIC) throw new SnapshotBlobError('not a Node.js snapshot blob (bad magic number)');
  reader.u8();
  const nodeVersion = reader.string();
  reader.string();
  reader.string();
  reader.u32();
  const flagsOffset = reader.offset;
  const flags = reader.u32();
  const v8Size = reader.i32();
  if (v8Size <= 0) throw new SnapshotBlobError(`bad V8 startup data size ${v8Size}`);
  reader.skip(v8Size);
  // The records between are not parsed: the code cache is the one place from which a vector of
  // (module id, bytes) entries reads exactly to the end of the file.
  for (let at = reader.offset; at + 8 <= blob.length; at++) {
    const entries = codeCacheEntriesAt(blob, at);
    if (entries !== undefined) return { nodeVersion, flagsOffset, flags, codeCacheOffset: at, codeCacheEntries: entries };
  }
  throw new SnapshotBlobError('no code cache section found at the end of the blob');
}

/** The blob with an empty code cache, marked "without code cache"; the V8 data is kept as it is. */
export function withoutBuiltinCodeCache(blob: Buffer): Buffer {
  const layout = readSnapshotLayout(blob);
  const out = Buffer.alloc(layout.codeCacheOffset + 8);
  blob.copy(out, 0, 0, layout.codeCacheOffset);
  out.writeBigUInt64LE(0n, layout.codeCacheOffset);
  out.writeUInt32LE((layout.flags | WITHOUT_CODE_CACHE) >>> 0, layout.flagsOffset);
  return out;
}

const MAX_ENTRIES = 4096;
const MAX_ID_LENGTH = 256;

/** The number of entries if a code cache vector starts at `at` and ends the file, else undefined. */
function codeCacheEntriesAt(blob: Buffer, at: number): number | undefined {
  const count = readSize(blob, at);
  if (count === undefined || count > MAX_ENTRIES) return undefined;
  let p = at + 8;
  for (let i = 0; i < count; i++) {
    const idLength = readSize(blob, p);
    if (idLength === undefined || idLength === 0 || idLength > MAX_ID_LENGTH || p + 8 + idLength > blob.length) return undefined;
    for (let c = p + 8; c < p + 8 + idLength; c++) if (blob[c]! < 0x20 || blob[c]! > 0x7e) return undefined;
    p += 8 + idLength;
    const dataLength = readSize(blob, p);
    if (dataLength === undefined || p + 8 + dataLength > blob.length) return undefined;
    p += 8 + dataLength;
  }
  return p === blob.length ? count : undefined;
}

function readSize(blob: Buffer, at: number): number | undefined {
  if (at + 8 > blob.length) return undefined;
  const v = blob.readBigUInt64LE(at);
  return v > BigInt(blob.length) ? undefined : Number(v);
}

class Reader {
  offset = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new SnapshotBlobError(`blob ends early (need ${n} bytes at offset ${this.offset})`);
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.offset++);
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.offset);
    this.offset += 4;
    return v;
  }
  string(): string {
    this.need(8);
    const length = readSize(this.buf, this.offset);
    if (length === undefined || length > MAX_ID_LENGTH) throw new SnapshotBlobError(`bad string length at offset ${this.offset}`);
    this.offset += 8;
    this.need(length);
    const s = this.buf.toString('latin1', this.offset, this.offset + length);
    this.offset += length;
    return s;
  }
  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }
}
