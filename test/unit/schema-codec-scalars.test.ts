// Every scalar type through our codec, checked byte for byte against protobufjs (an independent
// encoder of the same proto3 rules) at the edges of each type's range: zigzag, ten-byte negative
// varints, fixed widths, 64-bit values past 2^53, packed repeated numbers. The agent's own schema
// uses only some of these types; a new field must not find a broken path.
import protobuf from 'protobufjs';
import { describe, expect, test } from 'vitest';
import { decodeMessage, encodeMessage, MessageType } from '../../agent/src/proto/schema';

const FIELDS: Array<[name: string, type: string, label?: string]> = [
  ['i32', 'int32'], ['i64', 'int64'], ['u32', 'uint32'], ['u64', 'uint64'], ['s32', 'sint32'], ['s64', 'sint64'],
  ['f32', 'fixed32'], ['f64', 'fixed64'], ['sf32', 'sfixed32'], ['sf64', 'sfixed64'], ['fl', 'float'], ['db', 'double'],
  ['b', 'bool'], ['s', 'string'], ['by', 'bytes'],
  ['ri32', 'int32', 'rep'], ['rs64', 'sint64', 'rep'], ['rdb', 'double', 'rep'], ['rf32', 'fixed32', 'rep'], ['rs', 'string', 'rep'],
];
const ours = new MessageType('test.AllScalars', FIELDS.map(([n, t, l], i) => [n, i + 1, t, l].filter(Boolean).join(' ')).join(','));
const theirs = protobuf
  .parse(`syntax = "proto3"; package test; message AllScalars { ${FIELDS.map(([n, t, l], i) => `${l === 'rep' ? 'repeated ' : ''}${t} ${n} = ${i + 1};`).join(' ')} }`, { keepCase: true })
  .root.resolveAll() // settles proto3's packed default
  .lookupType('test.AllScalars');

const CASES: Array<Record<string, unknown>> = [
  { i32: 1, i64: '1', u32: 1, u64: '1', s32: 1, s64: '1', f32: 1, f64: '1', sf32: 1, sf64: '1', fl: 1.5, db: 1.25, b: true, s: 'a', by: Buffer.from([1]) },
  { i32: -1, i64: '-1', s32: -1, s64: '-1', sf32: -1, sf64: '-1', fl: -2.5, db: -0.1 },
  { i32: 2147483647, i64: '9223372036854775807', u32: 4294967295, u64: '18446744073709551615', s32: 2147483647, s64: '9223372036854775807' },
  { i32: -2147483648, i64: '-9223372036854775808', s32: -2147483648, s64: '-9223372036854775808', f32: 4294967295, f64: '18446744073709551615' },
  { i64: '9007199254740993', u64: '9007199254740993', sf64: '-9007199254740993', s: 'Grüße, 世界', by: Buffer.alloc(300, 7) },
  { u64: '4294967296', i64: '4294967295', u32: 128, i32: 300 },
  { ri32: [0, -1, 300, 2147483647], rs64: ['-1', '0', '1', '-9223372036854775808'], rdb: [0, -1.5, 1e300], rf32: [0, 4294967295], rs: ['', 'x'] },
  { db: Infinity, fl: -Infinity },
];

describe('scalars against protobufjs', () => {
  test.each(CASES.map((c, i) => [i, c] as const))('case %i encodes to the same bytes and decodes back', (_i, obj) => {
    const bytes = Buffer.from(encodeMessage(ours, obj));
    expect(bytes.toString('hex')).toBe(Buffer.from(theirs.encode(theirs.fromObject(obj)).finish()).toString('hex'));
    const back = decodeMessage<Record<string, unknown>>(ours, bytes);
    for (const [k, v] of Object.entries(obj)) expect(back[k], k).toEqual(v);
  });

  test('a string of more than 127 bytes in a nested length moves its content for the longer length prefix', () => {
    const s = 'x'.repeat(200);
    expect(decodeMessage<{ s: string }>(ours, encodeMessage(ours, { s })).s).toBe(s);
  });

  test('decoding what protobufjs wrote with unpacked repeated numbers and out-of-order fields', () => {
    const writer = protobuf.Writer.create();
    writer.uint32((17 << 3) | 0).sint64('-5'); // rs64, unpacked
    writer.uint32((1 << 3) | 0).int32(-7); // i32 after a later field
    writer.uint32((17 << 3) | 0).sint64('6');
    const back = decodeMessage<Record<string, unknown>>(ours, writer.finish());
    expect(back).toMatchObject({ i32: -7, rs64: ['-5', '6'], i64: '0', s: '', b: false });
  });

  test('values out of each type\'s range are refused, not wrapped', () => {
    expect(() => encodeMessage(ours, { i32: 2147483648 })).toThrow(/i32: expected int32/);
    expect(() => encodeMessage(ours, { u64: '-1' })).toThrow(/-1 is out of range for uint64/);
    expect(() => encodeMessage(ours, { sf64: '9223372036854775808' })).toThrow(/out of range for sfixed64/);
    expect(() => encodeMessage(ours, { f32: -1 })).toThrow(/f32: expected fixed32/);
  });

  test('an eleven-byte varint is refused', () => {
    expect(() => decodeMessage(ours, Buffer.from('08' + 'ff'.repeat(10) + '01', 'hex'))).toThrow(/i32: varint longer than 10 bytes/);
  });
});

describe('map keys from the wire', () => {
  test('an entry named "__proto__" is an entry, in decoding, encoding and JSON, not a prototype', async () => {
    const { messageFromJson, messageToJson, messageType } = await import('../../agent/src/proto/schema');
    const spec = messageType('grpc.Spec');
    const json = JSON.parse('{"Annotations":{"__proto__":"x","a":"b"}}') as Record<string, unknown>;
    const bytes = encodeMessage(spec, json);
    const back = decodeMessage<{ Annotations: Record<string, string> }>(spec, bytes);
    expect(Object.getPrototypeOf(back.Annotations)).toBe(Object.prototype);
    expect(Object.keys(back.Annotations)).toEqual(['__proto__', 'a']);
    expect(back.Annotations['__proto__']).toBe('x');
    expect(Object.keys(messageToJson(spec, back).Annotations as object)).toEqual(['__proto__', 'a']);
    expect(Object.keys(messageFromJson<{ Annotations: object }>(spec, json).Annotations)).toEqual(['__proto__', 'a']);
    // A key that is not UTF-8 is refused like any string (Spec.Annotations is field 7: tag 0x3a).
    expect(() => decodeMessage(spec, Buffer.from('3a06' + '0a02c328' + '1200', 'hex'))).toThrow(/grpc\.Spec\.Annotations\.key: string is not valid UTF-8/);
    // ... and in the OCI config.json crun reads
    const { specToOciJson } = await import('../../agent/src/container/oci-json');
    expect(Object.keys(specToOciJson(back).annotations as object)).toEqual(['__proto__', 'a']);
  });
});

describe('garbage in', () => {
  test('every truncation and 3000 seeded corruptions of a real request decode or fail as a decode error', async () => {
    const { kataFixture } = await import('../fixtures');
    const { messageType } = await import('../../agent/src/proto/schema');
    const type = messageType('grpc.CreateContainerRequest');
    const good = kataFixture('create-container-virtiofs.bin');
    const outcomes = { decoded: 0, refused: 0 };
    const attempt = (bytes: Buffer) => {
      try {
        decodeMessage(type, bytes);
        outcomes.decoded++;
      } catch (err) {
        // A plain Error naming the type: never a RangeError from reading past the buffer.
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).constructor).toBe(Error);
        expect((err as Error).message).toMatch(/^decode grpc\.CreateContainerRequest: /);
        outcomes.refused++;
      }
    };
    for (let n = 0; n < good.length; n++) attempt(good.subarray(0, n));
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(good);
      for (let k = 1 + Math.floor(next() * 4); k > 0; k--) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      attempt(bytes);
    }
    // Both outcomes happen: the corruptions are not all caught by one early check.
    expect(outcomes.refused).toBeGreaterThan(1000);
    expect(outcomes.decoded).toBeGreaterThan(100);
  });
});
