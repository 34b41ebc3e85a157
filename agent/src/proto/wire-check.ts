// A strict structural check of protobuf bytes against a message type, run before protobufjs
// decodes them. protobufjs is lenient: a length that overruns the buffer yields a truncated
// string, a field sent with the wrong wire type is read anyway, bad UTF-8 becomes U+FFFD.
// Go and Rust runtimes reject such input, and so must we: a garbled request has to fail
// with INVALID_ARGUMENT, not reach a handler half-read.
//
// This runs on every request, so it allocates nothing on the good path: varint reads leave
// their end in `cursor`, and error paths (strings) are only built when something is wrong.
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import type { Field, MapField, Type } from 'protobufjs';

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

const SCALAR_WIRE: Record<string, number> = {
  int32: VARINT, int64: VARINT, uint32: VARINT, uint64: VARINT, sint32: VARINT, sint64: VARINT, bool: VARINT,
  fixed64: FIXED64, sfixed64: FIXED64, double: FIXED64,
  fixed32: FIXED32, sfixed32: FIXED32, float: FIXED32,
  string: LEN, bytes: LEN,
};

/** Position just after the last varint read (readVarint returns the value). */
let cursor = 0;

/** Throws an Error describing the first malformed spot; returns quietly when `buf` is well-formed. */
export function checkWire(type: Type, buf: Uint8Array): void {
  walkMessage(type, buf, 0, buf.length, typeName(type));
}

function walkMessage(type: Type, buf: Uint8Array, pos: number, end: number, path: string): void {
  const byId = type.fieldsById;
  while (pos < end) {
    const tagStart = pos;
    const tag = readVarint(buf, pos, end, path, undefined, 0);
    pos = cursor;
    const id = Math.floor(tag / 8);
    const wire = tag % 8;
    if (id === 0 || id > 0x1fffffff) throw new Error(`${path}: invalid field number ${id} at byte ${tagStart}`);
    const field: Field | undefined = byId[id];
    let payloadStart = pos;
    if (wire === VARINT) {
      readVarint(buf, pos, end, path, field, id);
      pos = cursor;
    } else if (wire === LEN) {
      const len = readVarint(buf, pos, end, path, field, id);
      payloadStart = cursor;
      if (len > end - payloadStart) {
        throw new Error(`${at(path, field, id)}: length ${len} overruns the message (${end - payloadStart} bytes left)`);
      }
      pos = payloadStart + len;
    } else if (wire === FIXED64 || wire === FIXED32) {
      const size = wire === FIXED64 ? 8 : 4;
      if (pos + size > end) throw new Error(`${at(path, field, id)}: truncated ${size * 8}-bit value`);
      pos += size;
    } else {
      throw new Error(`${at(path, field, id)}: invalid wire type ${wire} at byte ${tagStart}`);
    }
    if (field) checkField(field, wire, buf, payloadStart, pos, path);
  }
}

function checkField(field: Field, wire: number, buf: Uint8Array, start: number, end: number, path: string): void {
  if (!field.resolved) field.resolve();
  const resolved = field.resolvedType;
  if (field instanceof protobuf.MapField) {
    if (wire !== LEN) wireMismatch(wire, LEN, path, field);
    walkMapEntry(field, buf, start, end, `${path}.${field.name}`);
  } else if (resolved instanceof protobuf.Type) {
    if (wire !== LEN) wireMismatch(wire, LEN, path, field);
    walkMessage(resolved, buf, start, end, `${path}.${field.name}`);
  } else {
    const scalarWire = resolved ? VARINT : SCALAR_WIRE[field.type];
    if (scalarWire === undefined) throw new Error(`${path}.${field.name}: unsupported field type ${field.type}`);
    // Repeated numeric fields may come packed (one LEN record) or one record per element.
    if (field.repeated && scalarWire !== LEN && wire === LEN) {
      checkPacked(scalarWire, buf, start, end, `${path}.${field.name}`);
      return;
    }
    if (wire !== scalarWire) wireMismatch(wire, scalarWire, path, field);
    if (field.type === 'string' && !isUtf8Range(buf, start, end)) throw new Error(`${path}.${field.name}: string is not valid UTF-8`);
  }
}

function walkMapEntry(field: MapField, buf: Uint8Array, pos: number, end: number, path: string): void {
  while (pos < end) {
    const tag = readVarint(buf, pos, end, path, undefined, 0);
    const id = Math.floor(tag / 8);
    const wire = tag % 8;
    pos = cursor;
    let payloadStart = pos;
    if (wire === VARINT) {
      readVarint(buf, pos, end, path, undefined, 0);
      pos = cursor;
    } else if (wire === LEN) {
      const len = readVarint(buf, pos, end, path, undefined, 0);
      payloadStart = cursor;
      if (len > end - payloadStart) throw new Error(`${path}: map entry field ${id} length ${len} overruns the entry`);
      pos = payloadStart + len;
    } else if (wire === FIXED64 || wire === FIXED32) {
      pos += wire === FIXED64 ? 8 : 4;
      if (pos > end) throw new Error(`${path}: truncated value in a map entry`);
    } else {
      throw new Error(`${path}: invalid wire type ${wire} in a map entry`);
    }
    if (id === 1) {
      const keyWire = SCALAR_WIRE[field.keyType];
      if (wire !== keyWire) throw new Error(`${path}: map key has wire type ${wire}, expected ${keyWire}`);
      if (field.keyType === 'string' && !isUtf8Range(buf, payloadStart, pos)) throw new Error(`${path}: map key is not valid UTF-8`);
    } else if (id === 2) {
      checkField(valueAsField(field), wire, buf, payloadStart, pos, path);
    }
  }
}

// A map's value is checked like a singular field of the value type.
const valueFields = new WeakMap<MapField, Field>();
function valueAsField(map: MapField): Field {
  let f = valueFields.get(map);
  if (!f) {
    f = new protobuf.Field('(value)', 2, map.type);
    f.parent = map.parent;
    f.resolvedType = map.resolvedType;
    f.resolved = true;
    valueFields.set(map, f);
  }
  return f;
}

function checkPacked(elementWire: number, buf: Uint8Array, pos: number, end: number, path: string): void {
  if (elementWire === VARINT) {
    while (pos < end) {
      readVarint(buf, pos, end, path, undefined, 0);
      pos = cursor;
    }
    return;
  }
  const size = elementWire === FIXED64 ? 8 : 4;
  if ((end - pos) % size !== 0) throw new Error(`${path}: packed length ${end - pos} is not a multiple of ${size}`);
}

/** ASCII is checked in place; only text with high bytes goes to the native UTF-8 validator. */
function isUtf8Range(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) return isUtf8(buf.subarray(start, end));
  }
  return true;
}

/**
 * Reads a varint as a number (exact up to 2^53; larger values only ever fail length checks)
 * and leaves the position after it in `cursor`.
 */
function readVarint(buf: Uint8Array, pos: number, end: number, path: string, field: Field | undefined, id: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new Error(`${id ? at(path, field, id) : path}: truncated varint`);
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      cursor = pos;
      return value;
    }
    scale *= 128;
  }
  throw new Error(`${id ? at(path, field, id) : path}: varint longer than 10 bytes`);
}

function at(path: string, field: Field | undefined, id: number): string {
  return field ? `${path}.${field.name}` : `${path} field ${id}`;
}

function wireMismatch(actual: number, expected: number, path: string, field: Field): never {
  throw new Error(`${path}.${field.name}: wire type ${actual}, expected ${expected}`);
}

function typeName(t: Type): string {
  return t.fullName.replace(/^\./, '');
}
