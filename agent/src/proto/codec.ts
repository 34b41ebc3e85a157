// Conversions between protobuf bytes, the objects handlers work with, and proto-JSON.
//
// Two plain-object shapes, both keyed by the proto field names (`container_id`, `OCI`):
//
// * Handler objects (decodeMessage, messageFromJson): every scalar field present with its zero
//   value when absent on the wire ('' / 0 / false), repeated fields as arrays, maps as objects,
//   absent sub-messages as null, proto3 `optional` and oneof members only when set.
//   64-bit integers are decimal strings (exact: rlimits and cgroup figures reach 2^64-1),
//   enums are value names ('v6', 'SERVING'), bytes are Buffers.
// * Proto-JSON (messageToJson): what Go's protojson prints with proto names: defaults omitted,
//   64-bit integers as strings, enums as names, bytes as base64.
//
// encodeMessage accepts either shape (and protobufjs message instances); numbers, numeric
// strings, bigints or Longs for 64-bit fields; enum names or numbers; Buffers or base64 for
// bytes. It follows proto3 implicit presence: zero scalars are not written, so a decoded Kata
// request re-encodes to exactly the bytes the runtime sent. Unknown fields and wrongly typed
// values throw an Error naming the message and the field path. decodeMessage first checks the
// bytes strictly (wire-check.ts), so malformed input throws instead of decoding half-way.
import protobuf from 'protobufjs';
import type { Enum, Field, IConversionOptions, Message, Type } from 'protobufjs';
import { checkWire } from './wire-check';

const HANDLER_OPTIONS: IConversionOptions = {
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: false,
};

const JSON_OPTIONS: IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: false,
  json: true,
};

export function decodeMessage<T extends object = Record<string, unknown>>(type: Type, bytes: Uint8Array): T {
  let message: Message;
  try {
    checkWire(type, bytes);
    message = type.decode(bytes);
  } catch (err) {
    throw new Error(`decode ${typeName(type)}: ${errorText(err)}`);
  }
  return type.toObject(message, HANDLER_OPTIONS) as T;
}

export function encodeMessage(type: Type, obj: object): Uint8Array {
  return type.encode(toEncodable(type, obj)).finish();
}

export function messageToJson(type: Type, msg: object): Record<string, unknown> {
  return type.toObject(toMessage(type, msg), JSON_OPTIONS);
}

export function messageFromJson<T extends object = Record<string, unknown>>(type: Type, json: unknown): T {
  return type.toObject(toMessage(type, json), HANDLER_OPTIONS) as T;
}

/**
 * Validates `obj` against `type` and returns a plain object protobufjs can encode as it is:
 * enums as numbers, 64-bit values as decimal strings or Longs, bytes as Uint8Arrays, proto3
 * zero scalars dropped. (encode() takes plain objects; fromObject() is not needed.)
 */
function toEncodable(type: Type, obj: unknown): Record<string, unknown> {
  return normalizeMessage(type, obj, typeName(type));
}

function toMessage(type: Type, obj: unknown): Message {
  return type.fromObject(toEncodable(type, obj));
}

function normalizeMessage(type: Type, value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new Error(`${path}: expected a ${typeName(type)} object, got ${describe(value)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    const field = type.fields[key];
    if (!field) {
      // toObject({oneofs: true}) adds the oneof's name as a discriminator key; it carries no data.
      if (type.oneofs?.[key] && typeof v === 'string') continue;
      throw new Error(`${path}: unknown field "${key}" in ${typeName(type)}`);
    }
    field.resolve();
    const fieldPath = `${path}.${key}`;
    if (field instanceof protobuf.MapField) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${fieldPath}: expected a map object, got ${describe(v)}`);
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0) continue;
      const map: Record<string, unknown> = {};
      for (const [k, entry] of entries) {
        checkMapKey(field.keyType, k, `${fieldPath}[${k}]`);
        map[k] = normalizeValue(field, entry, `${fieldPath}[${k}]`);
      }
      out[key] = map;
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new Error(`${fieldPath}: expected an array, got ${describe(v)}`);
      if (v.length === 0) continue;
      out[key] = v.map((item, i) => normalizeValue(field, item, `${fieldPath}[${i}]`));
    } else {
      const normalized = normalizeValue(field, v, fieldPath);
      if (!tracksPresence(field) && isZero(field, normalized)) continue;
      out[key] = normalized;
    }
  }
  return out;
}

/** proto3 writes a plain scalar only when it differs from its zero value. */
function tracksPresence(field: Field): boolean {
  return field.resolvedType instanceof protobuf.Type || field.partOf !== null;
}

function normalizeValue(field: Field, v: unknown, path: string): unknown {
  if (v === null || v === undefined) throw new Error(`${path}: null is not a ${field.type}`);
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return normalizeMessage(resolved, v, path);
  if (resolved instanceof protobuf.Enum) return enumNumber(resolved, v, path);
  return normalizeScalar(field.type, v, path);
}

function enumNumber(en: Enum, v: unknown, path: string): number {
  if (typeof v === 'string') {
    const n = en.values[v];
    if (n === undefined) throw new Error(`${path}: "${v}" is not a value of ${typeName(en)}`);
    return n;
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) return v;
  throw new Error(`${path}: expected a ${typeName(en)} name or number, got ${describe(v)}`);
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

function normalizeScalar(kind: string, v: unknown, path: string): unknown {
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
      const range64 = INT64_RANGE[kind];
      if (range64) return normalizeInt64(v, range64, kind, path);
      throw new Error(`${path}: unsupported field type ${kind}`);
    }
  }
  throw new Error(`${path}: expected ${kind}, got ${describe(v)}`);
}

/** 64-bit values leave as decimal strings (exact) or Longs; protobufjs accepts both. */
function normalizeInt64(v: unknown, [min, max]: [bigint, bigint], kind: string, path: string): unknown {
  let big: bigint | undefined;
  if (typeof v === 'bigint') big = v;
  else if (typeof v === 'string' && /^-?\d+$/.test(v)) big = BigInt(v);
  else if (typeof v === 'number' && Number.isSafeInteger(v)) big = BigInt(v);
  else if (protobuf.util.isObject(v) && Number.isInteger((v as { low?: unknown }).low) && Number.isInteger((v as { high?: unknown }).high)) return v;
  if (big === undefined) throw new Error(`${path}: expected ${kind} (integer, or decimal string for exact 64-bit values), got ${describe(v)}`);
  if (big < min || big > max) throw new Error(`${path}: ${big} is out of range for ${kind}`);
  return big.toString();
}

function checkMapKey(keyType: string, key: string, path: string): void {
  if (keyType === 'string') return;
  if (keyType === 'bool' ? key === 'true' || key === 'false' : /^-?\d+$/.test(key)) return;
  throw new Error(`${path}: map key "${key}" is not a ${keyType}`);
}

function isZero(field: Field, v: unknown): boolean {
  if (field.resolvedType instanceof protobuf.Enum) return v === 0;
  switch (field.type) {
    case 'string':
      return v === '';
    case 'bool':
      return v === false;
    case 'bytes':
      return v instanceof Uint8Array && v.length === 0;
    case 'double':
    case 'float':
      return Object.is(v, 0); // -0 is written, as Go does
    default:
      if (INT64_RANGE[field.type]) {
        if (typeof v === 'string') return v === '0';
        const long = v as { low?: unknown; high?: unknown };
        return long.low === 0 && long.high === 0;
      }
      return v === 0;
  }
}

function typeName(t: Type | Enum): string {
  return t.fullName.replace(/^\./, '');
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
