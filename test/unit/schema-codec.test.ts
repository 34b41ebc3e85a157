// The object conventions of the schema codec: what handlers receive, what encodeMessage
// accepts and writes, proto-JSON, and the errors bad input gets.
import { describe, expect, test } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  messageFromJson,
  messageToJson,
  messageType,
} from '../../agent/src/proto/schema';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('proto3 presence on the wire', () => {
  test('zero scalars are not written; a zero status encodes to no bytes', () => {
    const t = messageType('grpc.WaitProcessResponse');
    expect(encodeMessage(t, { status: 0 })).toHaveLength(0);
    expect(hex(encodeMessage(t, { status: 137 }))).toBe('088901');
    expect(decodeMessage(t, new Uint8Array())).toEqual({ status: 0 });
  });

  test('a handler object with every default filled re-encodes to nothing extra', () => {
    const t = messageType('grpc.ExecProcessRequest');
    const bytes = encodeMessage(t, { container_id: 'c1', process: { Args: ['sh'] } });
    const obj = decodeMessage<Record<string, any>>(t, bytes);
    expect(obj.exec_id).toBe('');
    expect(obj.process.Terminal).toBe(false);
    expect(obj.process.OOMScoreAdj).toBe('0');
    expect(hex(encodeMessage(t, obj))).toBe(hex(bytes));
  });

  test('an empty sub-message is kept (present, zero length)', () => {
    const t = messageType('grpc.Process');
    expect(hex(encodeMessage(t, { User: {} }))).toBe('1a00');
    expect(messageToJson(t, decodeMessage(t, Buffer.from('1a00', 'hex')))).toEqual({ User: {} });
  });

  test('proto3 optional fields keep presence: an explicit false is sent, unset stays unset', () => {
    const t = messageType('grpc.MemAgentMemcgConfig');
    const bytes = encodeMessage(t, { disabled: false, period_secs: '0' });
    expect(hex(bytes)).toBe('08002000');
    const obj = decodeMessage<Record<string, unknown>>(t, bytes);
    expect(obj).toEqual({ disabled: false, period_secs: '0' });
    expect('swap' in obj).toBe(false);
    expect(messageToJson(t, obj)).toEqual({ disabled: false, period_secs: '0' });
  });

  test('a oneof member set to 0 is sent (seccomp errnoret 0 differs from unset)', () => {
    const t = messageType('grpc.LinuxSyscall');
    expect(hex(encodeMessage(t, { Names: ['ptrace'], errnoret: 0 }))).toBe('0a067074726163651800');
    expect(decodeMessage(t, encodeMessage(t, { Names: ['ptrace'] }))).not.toHaveProperty('errnoret');
  });
});

describe('value conventions', () => {
  test('64-bit integers are exact decimal strings, up to 2^64-1 and down to -2^63', () => {
    const rl = messageType('grpc.POSIXRlimit');
    const max = '18446744073709551615';
    const obj = decodeMessage<Record<string, unknown>>(rl, encodeMessage(rl, { Type: 'RLIMIT_CORE', Hard: max, Soft: 2n ** 63n }));
    expect(obj).toEqual({ Type: 'RLIMIT_CORE', Hard: max, Soft: '9223372036854775808' });
    const mem = messageType('grpc.LinuxMemory');
    expect(decodeMessage(mem, encodeMessage(mem, { Limit: -1, Swap: '-9223372036854775808' }))).toMatchObject({ Limit: '-1', Swap: '-9223372036854775808' });
  });

  test('enums accept names or numbers and come back as names', () => {
    const t = messageType('types.IPAddress');
    const a = decodeMessage(t, encodeMessage(t, { family: 'v6', address: '::1' }));
    const b = decodeMessage(t, encodeMessage(t, { family: 1, address: '::1' }));
    expect(a).toEqual({ family: 'v6', address: '::1', mask: '' });
    expect(b).toEqual(a);
  });

  test('bytes are Buffers for handlers and base64 in JSON', () => {
    const t = messageType('grpc.WriteStreamRequest');
    const obj = decodeMessage<Record<string, unknown>>(t, encodeMessage(t, { container_id: 'c', exec_id: 'e', data: Buffer.from('hello\n') }));
    expect(Buffer.isBuffer(obj.data) || obj.data instanceof Uint8Array).toBe(true);
    expect(Buffer.from(obj.data as Uint8Array).toString()).toBe('hello\n');
    expect(messageToJson(t, obj)).toEqual({ container_id: 'c', exec_id: 'e', data: 'aGVsbG8K' });
    const back = messageFromJson<Record<string, unknown>>(t, { data: 'aGVsbG8K' });
    expect(Buffer.from(back.data as Uint8Array).toString()).toBe('hello\n');
  });

  test('maps come back as objects and JSON round trips are exact', () => {
    const t = messageType('grpc.MemoryStats');
    const json = { cache: '4096', stats: { anon: '1048576', file: '0' }, use_hierarchy: true };
    const obj = messageFromJson(t, json);
    expect(messageToJson(t, decodeMessage(t, encodeMessage(t, obj)))).toEqual(json);
  });

  test('a health reply as the runtime expects it', () => {
    const t = messageType('grpc.HealthCheckResponse');
    expect(hex(encodeMessage(t, { status: 'SERVING' }))).toBe('0801');
    expect(messageToJson(t, decodeMessage(t, Buffer.from('0801', 'hex')))).toEqual({ status: 'SERVING' });
  });
});

describe('errors name the message and the field', () => {
  const ccr = messageType('grpc.CreateContainerRequest');

  test('unknown field', () => {
    expect(() => encodeMessage(ccr, { container_id: 'c', OCI: { Proces: {} } })).toThrow(
      'grpc.CreateContainerRequest.OCI: unknown field "Proces" in grpc.Spec',
    );
  });

  test('wrong scalar types and ranges', () => {
    expect(() => encodeMessage(ccr, { sandbox_pidns: 'yes' })).toThrow(/sandbox_pidns: expected bool, got the string "yes"/);
    expect(() => encodeMessage(ccr, { stdin_port: -1 })).toThrow(/stdin_port: expected uint32, got number -1/);
    expect(() => encodeMessage(ccr, { OCI: { Process: { OOMScoreAdj: 1.5 } } })).toThrow(/OOMScoreAdj: expected int64/);
    expect(() => encodeMessage(messageType('grpc.POSIXRlimit'), { Hard: '18446744073709551616' })).toThrow(/out of range for uint64/);
    expect(() => encodeMessage(ccr, { storages: {} })).toThrow(/storages: expected an array, got an object/);
    expect(() => encodeMessage(ccr, { OCI: 'spec' })).toThrow(/OCI: expected a grpc.Spec object/);
  });

  test('bad enum name', () => {
    expect(() => messageFromJson(messageType('types.Route'), { family: 'v7' })).toThrow(/family: "v7" is not a value of types.IPFamily/);
  });

  test('malformed bytes fail to decode with the type and field named', () => {
    const bad: Array<[string, RegExp]> = [
      ['0affffff0f', /container_id: length 33554431 overruns the message \(0 bytes left\)/], // a lenient decoder would truncate
      ['0a05ab', /container_id: length 5 overruns/],
      ['0f01', /container_id: invalid wire type 7/],
      ['0801', /container_id: wire type 0, expected 2/], // a lenient decoder would read a string
      ['0a02c328', /container_id: string is not valid UTF-8/],
      ['3202' + '0a80', /OCI.Version: truncated varint|OCI.Version: length/],
      ['ff', /truncated varint/],
      ['00', /invalid field number 0/],
    ];
    for (const [h, why] of bad) {
      expect(() => decodeMessage(ccr, Buffer.from(h, 'hex')), h).toThrow(/^decode grpc.CreateContainerRequest: /);
      expect(() => decodeMessage(ccr, Buffer.from(h, 'hex')), h).toThrow(why);
    }
  });

  test('unknown fields are skipped, packed and unpacked repeated numbers both decode', () => {
    const user = messageType('grpc.User');
    // field 9 (unknown, varint) + AdditionalGids unpacked (1, 2) + packed (3, 4)
    const obj = decodeMessage<Record<string, unknown>>(user, Buffer.from('4801' + '18011802' + '1a020304', 'hex'));
    expect(obj.AdditionalGids).toEqual([1, 2, 3, 4]);
  });

  test('map entries are checked too', () => {
    const spec = messageType('grpc.Spec');
    const ok = encodeMessage(spec, { Annotations: { a: 'b' } });
    expect(decodeMessage(spec, ok)).toMatchObject({ Annotations: { a: 'b' } });
    // entry whose value (field 2) claims 9 bytes but has 1
    expect(() => decodeMessage(spec, Buffer.from('3a05' + '0a0161' + '1209', 'hex'))).toThrow(/Annotations/);
  });
});
