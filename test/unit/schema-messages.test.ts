// The message interfaces handlers are typed with (agent/src/proto/messages.generated.ts, from
// scripts/proto-messages.mjs) must say what the .proto files say, and what decodeMessage really
// gives: the same field names, present or absent as the decoder leaves them, values of the JS
// types the interfaces name. Checked on every message of the schema and on requests a Kata
// 3.19.1 runtime sent. The type-level checks below are checked by tsc (`tsc --noEmit -p .`).
import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { MESSAGES } from '../../agent/src/proto/descriptor.generated';
import {
  MESSAGE_FIELDS,
  type AgentServiceMethods,
  type CreateContainerRequest,
  type CreateSandboxRequest,
  type Empty,
  type EmptyInit,
  type IPAddress,
  type IPFamily,
  type LinuxSyscall,
  type MemAgentMemcgConfig,
  type MessageInitsByName,
  type MessagesByName,
  type Process,
  type Spec,
  type Storage,
  type WriteStreamRequest,
} from '../../agent/src/proto/messages.generated';
import { AGENT_SERVICE, decodeMessage, type Field, findMethod, messageType, type MessageType, serviceMethods } from '../../agent/src/proto/schema';
import { KATA_REQUEST_FIXTURES, kataFixture } from '../fixtures';
import { MESSAGES_FILE, generateMessages } from '../../scripts/proto-messages.mjs';

// ---------------------------------------------------------------------------------------------
// Type level: the interfaces against the runtime list of field names (checked by tsc).

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Listed<K extends keyof typeof MESSAGE_FIELDS> = (typeof MESSAGE_FIELDS)[K][number];
type Bare<N> = N extends `${infer B}?` ? B : N;
type OptionalKeys<T> = { [P in keyof T]-?: {} extends Pick<T, P> ? P : never }[keyof T];
type Matches<K extends keyof MessagesByName> = [
  Equal<keyof MessagesByName[K], Bare<Listed<K>>>,
  Equal<OptionalKeys<MessagesByName[K]>, Bare<Extract<Listed<K>, `${string}?`>>>,
  // A decoded message is itself a valid thing to encode (a handler may answer with what it got);
  // an empty one's Init is Record<string, never>, which a {} interface is not (no index signature).
  [keyof MessagesByName[K]] extends [never] ? true : MessagesByName[K] extends MessageInitsByName[K] ? true : false,
];
type Mismatched = { [K in keyof MessagesByName]: Matches<K> extends [true, true, true] ? never : K }[keyof MessagesByName];

const everyInterfaceMatchesItsList: [Mismatched] extends [never] ? true : Mismatched = true;
const sameMessages: Equal<keyof MessagesByName, keyof typeof MESSAGE_FIELDS> = true;

// The mapping, field kind by field kind, as codec.ts documents it.
expectTypeOf<CreateContainerRequest['container_id']>().toEqualTypeOf<string>();
expectTypeOf<CreateContainerRequest['OCI']>().toEqualTypeOf<Spec | null>(); // absent sub-message: null
expectTypeOf<CreateContainerRequest['storages']>().toEqualTypeOf<Storage[]>();
expectTypeOf<CreateContainerRequest['stdin_port']>().toEqualTypeOf<number>();
expectTypeOf<CreateSandboxRequest['sandbox_pidns']>().toEqualTypeOf<boolean>();
expectTypeOf<Process['OOMScoreAdj']>().toEqualTypeOf<string>(); // int64: a decimal string
expectTypeOf<Spec['Annotations']>().toEqualTypeOf<Record<string, string>>();
expectTypeOf<WriteStreamRequest['data']>().toEqualTypeOf<Buffer>();
expectTypeOf<IPAddress['family']>().toEqualTypeOf<IPFamily | number>(); // a name, or an undefined value's number
expectTypeOf<LinuxSyscall['errnoret']>().toEqualTypeOf<number | undefined>(); // oneof member: only when set
expectTypeOf<MemAgentMemcgConfig['period_secs']>().toEqualTypeOf<string | undefined>(); // proto3 optional uint64
expectTypeOf<AgentServiceMethods['CreateContainer']['request']>().toEqualTypeOf<CreateContainerRequest>();
expectTypeOf<AgentServiceMethods['CreateContainer']['response']>().toEqualTypeOf<Empty>();
expectTypeOf<AgentServiceMethods['StartContainer']['responseInit']>().toEqualTypeOf<EmptyInit>();

test('the type-level checks hold (tsc fails otherwise)', () => {
  expect(everyInterfaceMatchesItsList).toBe(true);
  expect(sameMessages).toBe(true);
});

// ---------------------------------------------------------------------------------------------
// The file and the schema.

test('messages.generated.ts is up to date with the .proto files (node scripts/proto-messages.mjs)', () => {
  expect(readFileSync(MESSAGES_FILE, 'utf8')).toBe(generateMessages());
});

test('it lists every message of the schema, with its fields in order', () => {
  expect(Object.keys(MESSAGE_FIELDS)).toEqual(Object.keys(MESSAGES));
  for (const name of Object.keys(MESSAGES)) {
    const listed = (MESSAGE_FIELDS as Record<string, readonly string[]>)[name]!;
    expect(listed.map((n) => n.replace(/\?$/, '')), name).toEqual(messageType(name).fieldsArray.map((f) => f.name));
  }
});

test('every AgentService method has its request and response in AgentServiceMethods', () => {
  // Type level: the method names are the same set; runtime: the schema has no other.
  const names: Array<keyof AgentServiceMethods> = serviceMethods(AGENT_SERVICE).map((m) => m.method as keyof AgentServiceMethods);
  expect(names).toHaveLength(42);
});

test('decoding nothing gives exactly the fields not marked "?" (the decoder leaves those out)', () => {
  for (const name of Object.keys(MESSAGES)) {
    const listed = (MESSAGE_FIELDS as Record<string, readonly string[]>)[name]!;
    const decoded = decodeMessage<Record<string, unknown>>(messageType(name), new Uint8Array());
    expect(Object.keys(decoded), name).toEqual(listed.filter((n) => !n.endsWith('?')));
  }
});

// ---------------------------------------------------------------------------------------------
// Real requests: every message in them has the interface's fields, of its JS types.

/** What is wrong with `value` as a value of `field` (one element or map value: `single`). */
function valueProblem(field: Field, value: unknown, single: boolean, path: string, problems: string[]): void {
  if (!single && field.map) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) problems.push(`${path}: not a map object`);
    else for (const [k, v] of Object.entries(value)) valueProblem(field, v, true, `${path}[${k}]`, problems);
    return;
  }
  if (!single && field.repeated) {
    if (!Array.isArray(value)) problems.push(`${path}: not an array`);
    else value.forEach((v, i) => valueProblem(field, v, true, `${path}[${i}]`, problems));
    return;
  }
  if (field.kind === 'message') {
    if (value === null && !single) return;
    if (typeof value !== 'object' || value === null) problems.push(`${path}: not a ${field.type}`);
    else messageProblems(field.message!, value as Record<string, unknown>, path, problems);
    return;
  }
  const ok =
    field.kind === 'enum' ? (typeof value === 'string' && Object.hasOwn(field.enum!.values, value)) || typeof value === 'number'
    : field.type === 'string' ? typeof value === 'string'
    : field.type === 'bool' ? typeof value === 'boolean'
    : field.type === 'bytes' ? Buffer.isBuffer(value)
    : /64$/.test(field.type) ? typeof value === 'string' && /^-?\d+$/.test(value)
    : typeof value === 'number';
  if (!ok) problems.push(`${path}: ${JSON.stringify(value)} is not what a ${field.type} field holds`);
}

function messageProblems(type: MessageType, obj: Record<string, unknown>, path: string, problems: string[]): void {
  const listed = (MESSAGE_FIELDS as Record<string, readonly string[]>)[type.fullName]!;
  const names = listed.map((n) => n.replace(/\?$/, ''));
  for (const key of Object.keys(obj)) if (!names.includes(key)) problems.push(`${path}.${key}: not a field of the interface`);
  for (const n of listed) if (!n.endsWith('?') && !Object.hasOwn(obj, n)) problems.push(`${path}.${n}: missing`);
  for (const field of type.fieldsArray) {
    if (Object.hasOwn(obj, field.name)) valueProblem(field, obj[field.name], false, `${path}.${field.name}`, problems);
  }
}

const FIXTURES: ReadonlyArray<readonly [file: string, method: keyof AgentServiceMethods]> = KATA_REQUEST_FIXTURES;

describe.each(FIXTURES)('Kata 3.19.1 fixture %s (%s)', (file, method) => {
  test('every message in it has the fields of its interface, of the types the interface names', () => {
    const type = findMethod(AGENT_SERVICE, method)!.requestType;
    const problems: string[] = [];
    messageProblems(type, decodeMessage(type, kataFixture(`${file}.bin`)), type.name, problems);
    expect(problems).toEqual([]);
  });
});

test('a decoded CreateContainer request reads as its interface', () => {
  const req = decodeMessage<AgentServiceMethods['CreateContainer']['request']>(findMethod(AGENT_SERVICE, 'CreateContainer')!.requestType, kataFixture('create-container-virtiofs.bin'));
  // Typed reads that tsc checks against the schema, and the values the runtime sent.
  const args: string[] | undefined = req.OCI?.Process?.Args;
  const storages: Storage[] = req.storages;
  expect(args?.length).toBeGreaterThan(0);
  expect(storages.every((s) => typeof s.mount_point === 'string' && s.fs_group === null || typeof s.fs_group === 'object')).toBe(true);
  expect(typeof req.OCI?.Linux?.Resources?.Memory?.Limit).toMatch(/string|undefined/);
});
