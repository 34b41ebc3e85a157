// Conversions between protobuf bytes, the objects handlers work with, and proto-JSON.
//
// Two plain-object shapes, both keyed by the proto field names (`container_id`, `OCI`):
//
// * Handler objects (decodeMessage, messageFromJson): every scalar field present with its zero
//   value when absent on the wire ('' / 0 / false), repeated fields as arrays, maps as objects,
//   absent sub-messages as null, proto3 `optional` and oneof members only when set.
//   64-bit integers are decimal strings (exact: rlimits and cgroup figures reach 2^64-1),
//   enums are value names ('v6', 'SERVING'; a number the enum does not define stays a number),
//   bytes are Buffers.
// * Proto-JSON (messageToJson): what Go's protojson prints with proto names: defaults omitted,
//   64-bit integers as strings, enums as names, bytes as base64.
//
// encodeMessage accepts either shape; numbers, numeric strings, bigints or Long-like {low, high}
// objects for 64-bit fields; enum names or numbers; Buffers or base64 for bytes. It follows
// proto3 implicit presence: zero scalars are not written, fields go out in number order and
// numbers are packed, so a decoded Kata request re-encodes to exactly the bytes the runtime sent.
// Unknown fields and wrongly typed values throw an Error naming the message and the field path.
//
// decodeMessage is strict where a lenient decoder would guess: a length that overruns its
// message, a field sent with the wrong wire type, bad UTF-8 in a string, a truncated varint or
// fixed value, field number 0 and the group wire types all throw. Go and Rust runtimes reject such
// input, and so must we: a garbled request has to fail with INVALID_ARGUMENT, not reach a handler
// half-read. Unknown fields are checked for framing and skipped.
import { isUtf8 } from 'node:buffer';
import { type EnumType, type Field, FIXED32, FIXED64, INT64_TYPES, LEN, type MessageType, SCALAR_WIRE, type ScalarType, VARINT } from './reflect';
import { WireWriter } from './writer';

type Obj = Record<string, unknown>;

export function decodeMessage<T extends object = Obj>(type: MessageType, bytes: Uint8Array): T {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return readMessage(type, buf, 0, buf.length, type.fullName) as T;
  } catch (err) {
    throw new Error(`decode ${type.fullName}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function encodeMessage(type: MessageType, obj: object): Uint8Array {
  const w = new WireWriter();
  writeMessage(w, type, normalizeMessage(type, obj, type.fullName));
  return w.finish();
}

export function messageToJson(type: MessageType, msg: object): Obj {
  return jsonMessage(type, normalizeMessage(type, msg, type.fullName));
}

export function messageFromJson<T extends object = Obj>(type: MessageType, json: unknown): T {
  // Through the wire form: the handler shape is then exactly what decodeMessage gives.
  return decodeMessage<T>(type, encodeMessage(type, json as object));
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** The last varint read: its low and high 32 bits (unsigned) and the position after it. */
let lo = 0;
let hi = 0;
let cursor = 0;

// Error texts name where it went wrong ("grpc.Spec.Process.Args", or "... field 12" for an
// unknown field); they are built only when something is wrong, as decoding runs on every request.
function at(path: string, field: Field | undefined, id: number): string {
  return field ? `${path}.${field.name}` : id ? `${path} field ${id}` : path;
}

function readMessage(type: MessageType, buf: Buffer, pos: number, end: number, path: string): Obj {
  const obj = handlerDefaults(type);
  while (pos < end) {
    const tagStart = pos;
    readVarint(buf, pos, end, path, undefined, 0);
    pos = cursor;
    const id = hi === 0 ? lo >>> 3 : hi * 0x20000000 + (lo >>> 3);
    const wire = lo & 7;
    if (id === 0 || id > 0x1fffffff) throw new Error(`${path}: invalid field number ${id} at byte ${tagStart}`);
    const field = type.fieldById(id);
    // Framing first, for known and unknown fields alike.
    let start = pos;
    if (wire === VARINT) {
      readVarint(buf, pos, end, path, field, id);
      pos = cursor;
    } else if (wire === LEN) {
      readVarint(buf, pos, end, path, field, id);
      start = cursor;
      if (hi !== 0 || lo > end - start) throw new Error(`${at(path, field, id)}: length ${hi * 2 ** 32 + lo} overruns the message (${end - start} bytes left)`);
      pos = start + lo;
    } else if (wire === FIXED64 || wire === FIXED32) {
      const size = wire === FIXED64 ? 8 : 4;
      if (pos + size > end) throw new Error(`${at(path, field, id)}: truncated ${size * 8}-bit value`);
      pos += size;
    } else {
      throw new Error(`${at(path, field, id)}: invalid wire type ${wire} at byte ${tagStart}`);
    }
    if (field) readField(obj, field, wire, buf, start, pos, path);
  }
  return obj;
}

/** Stores the value of `field` found at [start, end) (the payload of a LEN record, or the value). */
function readField(obj: Obj, field: Field, wire: number, buf: Buffer, start: number, end: number, path: string): void {
  if (field.map) {
    if (wire !== LEN) wireMismatch(wire, LEN, path, field);
    readMapEntry(obj[field.name] as Obj, field, buf, start, end, path);
  } else if (field.kind === 'message') {
    if (wire !== LEN) wireMismatch(wire, LEN, path, field);
    const value = readMessage(field.message!, buf, start, end, `${path}.${field.name}`);
    if (field.repeated) (obj[field.name] as unknown[]).push(value);
    else obj[field.name] = value;
  } else if (field.repeated) {
    const list = obj[field.name] as unknown[];
    if (wire === LEN && field.packed) {
      readPacked(list, field, buf, start, end, path);
    } else {
      if (wire !== field.wire) wireMismatch(wire, field.wire, path, field);
      list.push(readValue(field, buf, start, end, path));
    }
  } else {
    if (wire !== field.wire) wireMismatch(wire, field.wire, path, field);
    obj[field.name] = readValue(field, buf, start, end, path);
  }
}

function readPacked(list: unknown[], field: Field, buf: Buffer, pos: number, end: number, path: string): void {
  if (field.wire === VARINT) {
    while (pos < end) {
      readVarint(buf, pos, end, path, field, field.id);
      list.push(varintValue(field));
      pos = cursor;
    }
    return;
  }
  const size = field.wire === FIXED64 ? 8 : 4;
  if ((end - pos) % size !== 0) throw new Error(`${at(path, field, field.id)}: packed length ${end - pos} is not a multiple of ${size}`);
  for (; pos < end; pos += size) list.push(readValue(field, buf, pos, pos + size, path));
}

/**
 * One scalar or enum value. A varint is read again from `start` (framing only checked it); a
 * fixed or LEN value is [start, end).
 */
function readValue(field: Field, buf: Buffer, start: number, end: number, path: string): unknown {
  switch (field.wire) {
    case VARINT:
      readVarint(buf, start, end, path, field, field.id);
      return varintValue(field);
    case LEN:
      if (field.type === 'bytes') return buf.subarray(start, end);
      return readString(buf, start, end, path, field);
    case FIXED32:
      return field.type === 'float' ? buf.readFloatLE(start) : field.type === 'sfixed32' ? buf.readInt32LE(start) : buf.readUInt32LE(start);
    default:
      if (field.type === 'double') return buf.readDoubleLE(start);
      return (field.type === 'sfixed64' ? buf.readBigInt64LE(start) : buf.readBigUInt64LE(start)).toString();
  }
}

/** The value of the varint just read (lo, hi) as `field`'s type. */
function varintValue(field: Field): unknown {
  if (field.kind === 'enum') return enumName(field.enum!, lo | 0);
  switch (field.type as ScalarType) {
    case 'bool':
      return lo !== 0 || hi !== 0;
    case 'uint32':
      return lo;
    case 'sint32':
      return (lo >>> 1) ^ -(lo & 1);
    case 'int32':
      return lo | 0;
    case 'uint64':
      return hi === 0 ? String(lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
    case 'int64':
      return hi === 0 ? String(lo) : BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
    default: { // sint64
      const n = (BigInt(hi) << 32n) | BigInt(lo);
      return ((n >> 1n) ^ -(n & 1n)).toString();
    }
  }
}

function enumName(en: EnumType, n: number): string | number {
  return en.nameOf(n) ?? n;
}

/** One entry of a map field of the message at `path`. */
function readMapEntry(map: Obj, field: Field, buf: Buffer, pos: number, end: number, path: string): void {
  const where = `${path}.${field.name}`;
  const keyType = field.keyType!;
  let key: unknown;
  let value: unknown;
  while (pos < end) {
    readVarint(buf, pos, end, where, undefined, 0);
    pos = cursor;
    const id = hi === 0 ? lo >>> 3 : -1;
    const wire = lo & 7;
    let start = pos;
    if (wire === VARINT) {
      readVarint(buf, pos, end, where, undefined, 0);
      pos = cursor;
    } else if (wire === LEN) {
      readVarint(buf, pos, end, where, undefined, 0);
      start = cursor;
      if (hi !== 0 || lo > end - start) throw new Error(`${where}: map entry field ${id} length ${hi * 2 ** 32 + lo} overruns the entry`);
      pos = start + lo;
    } else if (wire === FIXED64 || wire === FIXED32) {
      pos += wire === FIXED64 ? 8 : 4;
      if (pos > end) throw new Error(`${where}: truncated value in a map entry`);
    } else {
      throw new Error(`${where}: invalid wire type ${wire} in a map entry`);
    }
    if (id === 1) {
      const keyWire = SCALAR_WIRE[keyType];
      if (wire !== keyWire) throw new Error(`${where}: map key has wire type ${wire}, expected ${keyWire}`);
      key = readValue(keyField(keyType), buf, start, pos, where);
    } else if (id === 2) {
      if (wire !== field.wire) throw new Error(`${where}: map value has wire type ${wire}, expected ${field.wire}`);
      value = field.kind === 'message' ? readMessage(field.message!, buf, start, pos, where) : readValue(field, buf, start, pos, path);
    }
  }
  setEntry(map, key === undefined ? zeroKey(keyType) : String(key), value ?? (field.kind === 'message' ? handlerDefaults(field.message!) : zeroValue(field)));
}

/**
 * Sets a map entry. Keys come from the wire: an annotation named "__proto__" is an entry like any
 * other, not the object's prototype.
 */
export function setEntry(map: Obj, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
  else map[key] = value;
}

// Map keys are read as singular fields of the key type.
const keyFields = new Map<string, Field>();
function keyField(keyType: ScalarType): Field {
  let f = keyFields.get(keyType);
  if (!f) {
    f = Object.freeze({ name: 'key', id: 1, type: keyType, kind: 'scalar', wire: SCALAR_WIRE[keyType] }) as Field;
    keyFields.set(keyType, f);
  }
  return f;
}

function zeroKey(keyType: ScalarType): string {
  return keyType === 'string' ? '' : keyType === 'bool' ? 'false' : '0';
}

/**
 * Reads a varint into (lo, hi) and leaves the position after it in `cursor`. Bytes 0-3 fill 28
 * bits of lo, byte 4 its last 4 bits and 3 of hi, bytes 5-9 the rest of hi.
 */
function readVarint(buf: Buffer, pos: number, end: number, path: string, field: Field | undefined, id: number): void {
  let l = 0;
  let b: number;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) throw new Error(`${at(path, field, id)}: truncated varint`);
    b = buf[pos++]!;
    l |= (b & 0x7f) << shift;
    if (b < 0x80) {
      lo = l >>> 0;
      hi = 0;
      cursor = pos;
      return;
    }
  }
  if (pos >= end) throw new Error(`${at(path, field, id)}: truncated varint`);
  b = buf[pos++]!;
  l |= (b & 0x7f) << 28;
  let h = (b & 0x7f) >> 4;
  if (b >= 0x80) {
    for (let shift = 3; ; shift += 7) {
      if (shift > 31) throw new Error(`${at(path, field, id)}: varint longer than 10 bytes`);
      if (pos >= end) throw new Error(`${at(path, field, id)}: truncated varint`);
      b = buf[pos++]!;
      h |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
  }
  lo = l >>> 0;
  hi = h >>> 0;
  cursor = pos;
}

// Buffer's own slicers, without toString()'s argument checks (bounds are checked here already).
interface Slicers {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** A string field's text: ASCII (most of what Kata sends) is sliced as is, the rest checked first. */
function readString(buf: Buffer, start: number, end: number, path: string, field: Field): string {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      if (!isUtf8(buf.subarray(start, end))) throw new Error(`${at(path, field, field.id)}: string is not valid UTF-8`);
      return (buf as unknown as Slicers).utf8Slice(start, end);
    }
  }
  return (buf as unknown as Slicers).latin1Slice(start, end);
}

function wireMismatch(actual: number, expected: number, path: string, field: Field): never {
  throw new Error(`${path}.${field.name}: wire type ${actual}, expected ${expected}`);
}

/** A handler object with every field that has no presence at its zero value. */
function handlerDefaults(type: MessageType): Obj {
  // Copying a per-type template is one shape-preserving clone instead of a store per field; only
  // the mutable defaults (lists, maps, empty Buffers) are made anew for each object.
  let defaults = templates.get(type);
  if (!defaults) {
    defaults = { template: {}, fresh: [] };
    for (const field of type.fieldsArray) {
      if (field.map || field.repeated || field.type === 'bytes') {
        if (field.oneof === undefined) {
          defaults.template[field.name] = null;
          defaults.fresh.push(field);
        }
      } else if (field.kind === 'message') defaults.template[field.name] = null;
      else if (field.oneof === undefined) defaults.template[field.name] = zeroValue(field);
    }
    templates.set(type, defaults);
  }
  const obj: Obj = { ...defaults.template };
  for (const field of defaults.fresh) obj[field.name] = field.map ? {} : field.repeated ? [] : Buffer.alloc(0);
  return obj;
}

const templates = new WeakMap<MessageType, { template: Obj; fresh: Field[] }>();

function zeroValue(field: Field): unknown {
  if (field.kind === 'enum') return field.enum!.zeroName;
  switch (field.type) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'bytes':
      return Buffer.alloc(0);
    default:
      return INT64_TYPES.has(field.type) ? '0' : 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Validation: any accepted object shape to the one the writer takes

/**
 * Validates `value` against `type` and returns a plain object in one shape: enums as numbers,
 * 64-bit values as decimal strings, bytes as Uint8Arrays, proto3 zero scalars and empty
 * repeated fields and maps dropped.
 */
function normalizeMessage(type: MessageType, value: unknown, path: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new Error(`${path}: expected a ${type.fullName} object, got ${describe(value)}`);
  }
  const out: Obj = {};
  for (const key of Object.keys(value)) {
    const v = (value as Obj)[key];
    if (v === undefined || v === null) continue;
    const field = Object.hasOwn(type.fields, key) ? type.fields[key] : undefined;
    if (!field) {
      // A oneof's name as a discriminator key (as some JSON tools add it) carries no data.
      if (type.oneofs.has(key) && typeof v === 'string') continue;
      throw new Error(`${path}: unknown field "${key}" in ${type.fullName}`);
    }
    if (field.map) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${path}.${key}: expected a map object, got ${describe(v)}`);
      const keys = Object.keys(v as Obj);
      if (keys.length === 0) continue;
      const map: Obj = {};
      for (const k of keys) {
        checkMapKey(field.keyType!, k, `${path}.${key}[${k}]`);
        setEntry(map, k, normalizeValue(field, (v as Obj)[k], path, k));
      }
      out[key] = map;
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new Error(`${path}.${key}: expected an array, got ${describe(v)}`);
      if (v.length === 0) continue;
      const list = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) list[i] = normalizeValue(field, v[i], path, i);
      out[key] = list;
    } else {
      const normalized = normalizeValue(field, v, path, undefined);
      if (!field.tracksPresence && isZero(field, normalized)) continue;
      out[key] = normalized;
    }
  }
  return out;
}

/** The path of a field's value (of one element or map entry with `index`), for messages and errors. */
function valuePath(path: string, field: Field, index: string | number | undefined): string {
  return index === undefined ? `${path}.${field.name}` : `${path}.${field.name}[${index}]`;
}

/** One value of `field` of the message at `path`; the value's own path is only built when needed. */
function normalizeValue(field: Field, v: unknown, path: string, index: string | number | undefined): unknown {
  if (v === null || v === undefined) throw new Error(`${valuePath(path, field, index)}: null is not a ${field.type}`);
  if (field.kind === 'message') return normalizeMessage(field.message!, v, valuePath(path, field, index));
  const normalized = field.kind === 'enum' ? enumNumber(field.enum!, v) : normalizeScalar(field.type as ScalarType, v);
  if (normalized instanceof ValueError) throw new Error(`${valuePath(path, field, index)}: ${normalized.message}`);
  return normalized;
}

/** What is wrong with a value, returned (not thrown) so that the caller adds where it is. */
class ValueError {
  constructor(readonly message: string) {}
}

function enumNumber(en: EnumType, v: unknown): number | ValueError {
  if (typeof v === 'string') {
    const n = Object.hasOwn(en.values, v) ? en.values[v] : undefined;
    return n ?? new ValueError(`"${v}" is not a value of ${en.fullName}`);
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) return v;
  return new ValueError(`expected a ${en.fullName} name or number, got ${describe(v)}`);
}

const INT32_RANGE: Record<string, [number, number]> = {
  int32: [-0x80000000, 0x7fffffff],
  sint32: [-0x80000000, 0x7fffffff],
  sfixed32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
  fixed32: [0, 0xffffffff],
};
const INT64_RANGE: Record<string, [bigint, bigint]> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

function normalizeScalar(kind: ScalarType, v: unknown): unknown {
  switch (kind) {
    case 'string':
      if (typeof v === 'string') return v;
      break;
    case 'bool':
      if (typeof v === 'boolean') return v;
      break;
    case 'double':
    case 'float':
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && (v === 'NaN' || v === 'Infinity' || v === '-Infinity' || (v.trim() !== '' && !Number.isNaN(Number(v))))) return Number(v);
      break;
    case 'bytes':
      if (v instanceof Uint8Array) return v;
      if (typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) return Buffer.from(v, 'base64');
      break;
    default: {
      const range32 = INT32_RANGE[kind];
      if (range32) {
        const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
        if (typeof n === 'number' && Number.isInteger(n) && n >= range32[0] && n <= range32[1]) return n;
        break;
      }
      return normalizeInt64(v, INT64_RANGE[kind]!, kind);
    }
  }
  return new ValueError(`expected ${kind}, got ${describe(v)}`);
}

const SMALL_DECIMAL = /^(?:0|[1-9]\d*)$/;

/** 64-bit values as exact decimal strings. */
function normalizeInt64(v: unknown, [min, max]: [bigint, bigint], kind: string): string | ValueError {
  // Most values are small, non-negative and canonical: in range for every 64-bit type as they are.
  if (typeof v === 'string' && v.length <= 15 && SMALL_DECIMAL.test(v)) return v;
  let big: bigint | undefined;
  if (typeof v === 'bigint') big = v;
  else if (typeof v === 'string' && /^-?\d+$/.test(v)) big = BigInt(v);
  else if (typeof v === 'number' && Number.isSafeInteger(v)) big = BigInt(v);
  else if (isLong(v)) {
    const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
    big = v.unsigned || min === 0n ? bits : BigInt.asIntN(64, bits);
  }
  if (big === undefined) return new ValueError(`expected ${kind} (integer, or decimal string for exact 64-bit values), got ${describe(v)}`);
  if (big < min || big > max) return new ValueError(`${big} is out of range for ${kind}`);
  return big.toString();
}

/** A Long (long.js, as protobufjs-made objects carry): 32-bit halves. */
function isLong(v: unknown): v is { low: number; high: number; unsigned?: boolean } {
  return typeof v === 'object' && v !== null && Number.isInteger((v as { low?: unknown }).low) && Number.isInteger((v as { high?: unknown }).high);
}

function checkMapKey(keyType: string, key: string, path: string): void {
  if (keyType === 'string') return;
  if (keyType === 'bool' ? key === 'true' || key === 'false' : /^-?\d+$/.test(key)) return;
  throw new Error(`${path}: map key "${key}" is not a ${keyType}`);
}

function isZero(field: Field, v: unknown): boolean {
  if (field.kind === 'enum') return v === 0;
  switch (field.type) {
    case 'string':
      return v === '';
    case 'bool':
      return v === false;
    case 'bytes':
      return (v as Uint8Array).length === 0;
    case 'double':
    case 'float':
      return Object.is(v, 0); // -0 is written, as Go does
    default:
      return v === 0 || v === '0';
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

// ---------------------------------------------------------------------------------------------
// Encoding (of normalized objects)

function writeMessage(w: WireWriter, type: MessageType, obj: Obj): void {
  for (const field of type.writeOrder) {
    const v = obj[field.name];
    if (v === undefined) continue;
    if (field.map) {
      const keyType = field.keyType!;
      for (const [k, entry] of Object.entries(v as Obj)) {
        w.tag(field.id, LEN);
        const mark = w.beginLength();
        w.tag(1, SCALAR_WIRE[keyType]);
        writeScalar(w, keyType, keyType === 'bool' ? k === 'true' : keyType === 'string' || INT64_TYPES.has(keyType) ? k : Number(k));
        writeValue(w, 2, field, entry);
        w.endLength(mark);
      }
    } else if (field.repeated) {
      const list = v as unknown[];
      if (field.packed) {
        w.tag(field.id, LEN);
        const mark = w.beginLength();
        const scalar = field.kind === 'enum' ? 'int32' : (field.type as ScalarType);
        for (const item of list) writeScalar(w, scalar, item);
        w.endLength(mark);
      } else {
        for (const item of list) writeValue(w, field.id, field, item);
      }
    } else {
      writeValue(w, field.id, field, v);
    }
  }
}

function writeValue(w: WireWriter, id: number, field: Field, v: unknown): void {
  w.tag(id, field.wire);
  if (field.kind === 'message') {
    const mark = w.beginLength();
    writeMessage(w, field.message!, v as Obj);
    w.endLength(mark);
  } else {
    writeScalar(w, field.kind === 'enum' ? 'int32' : (field.type as ScalarType), v);
  }
}

function writeScalar(w: WireWriter, type: ScalarType, v: unknown): void {
  switch (type) {
    case 'string':
      w.string(v as string);
      return;
    case 'bytes':
      w.bytes(v as Uint8Array);
      return;
    case 'bool':
      w.varint32(v ? 1 : 0);
      return;
    case 'uint32':
      w.varint32(v as number);
      return;
    case 'int32':
      // Negative values take all ten bytes (sign-extended to 64 bits), as protobuf requires.
      if ((v as number) < 0) w.varint64((v as number) >>> 0, 0xffffffff);
      else w.varint32(v as number);
      return;
    case 'sint32':
      w.varint32((((v as number) << 1) ^ ((v as number) >> 31)) >>> 0);
      return;
    case 'fixed32':
    case 'sfixed32':
      w.fixed32((v as number) >>> 0);
      return;
    case 'float':
      w.float(v as number);
      return;
    case 'double':
      w.double(v as number);
      return;
    case 'int64':
    case 'uint64':
      // Most values are small and positive: no BigInt for them.
      if ((v as string).length < 10 && (v as string)[0] !== '-') w.varint32(Number(v));
      else w.varint64From(BigInt.asUintN(64, BigInt(v as string)));
      return;
    case 'sint64': {
      const n = BigInt(v as string);
      w.varint64From(BigInt.asUintN(64, (n << 1n) ^ (n >> 63n)));
      return;
    }
    default: // fixed64, sfixed64
      w.fixed64(BigInt.asUintN(64, BigInt(v as string)));
  }
}

// ---------------------------------------------------------------------------------------------
// Proto-JSON (of normalized objects)

function jsonMessage(type: MessageType, obj: Obj): Obj {
  const out: Obj = {};
  for (const field of type.fieldsArray) {
    const v = obj[field.name];
    if (v === undefined) continue;
    if (field.map) {
      const map: Obj = {};
      for (const [k, entry] of Object.entries(v as Obj)) setEntry(map, k, jsonValue(field, entry));
      out[field.name] = map;
    } else if (field.repeated) {
      out[field.name] = (v as unknown[]).map((item) => jsonValue(field, item));
    } else {
      out[field.name] = jsonValue(field, v);
    }
  }
  return out;
}

function jsonValue(field: Field, v: unknown): unknown {
  if (field.kind === 'message') return jsonMessage(field.message!, v as Obj);
  if (field.kind === 'enum') return enumName(field.enum!, v as number);
  if (field.type === 'bytes') {
    const b = v as Uint8Array;
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  }
  if ((field.type === 'double' || field.type === 'float') && !Number.isFinite(v)) return String(v);
  return v;
}
