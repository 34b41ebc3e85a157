// Requests captured from a real Kata 3.19.1 runtime: our schema must decode each one field for
// field as the runtime's own protobuf JSON shows it, and give back the very bytes it sent.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  AGENT_SERVICE,
  decodeMessage,
  encodeMessage,
  findMethod,
  messageFromJson,
  messageToJson,
} from '../../agent/src/proto/schema';
import { KATA_FIXTURES, KATA_REQUEST_FIXTURES } from '../fixtures';

const fixtureDir = KATA_FIXTURES;

const FIXTURES = KATA_REQUEST_FIXTURES;

function load(file: string): { bin: Buffer; json: Record<string, unknown> } {
  return {
    bin: readFileSync(path.join(fixtureDir, `${file}.bin`)),
    json: JSON.parse(readFileSync(path.join(fixtureDir, `${file}.json`), 'utf8')) as Record<string, unknown>,
  };
}

function requestType(method: string) {
  const info = findMethod(AGENT_SERVICE, method);
  if (!info) throw new Error(`no method ${method}`);
  return info.requestType;
}

/** Map keys in the order a decoded message holds them (= the order the runtime wrote them). */
function annotationOrder(decoded: Record<string, unknown>): string[] {
  const oci = decoded.OCI as { Annotations?: Record<string, string> } | null;
  return Object.keys(oci?.Annotations ?? {});
}

describe.each(FIXTURES)('fixture %s (%s)', (file, method) => {
  const type = requestType(method);
  const { bin, json } = load(file);

  test('decodes field for field as the runtime\'s JSON', () => {
    const decoded = decodeMessage(type, bin);
    expect(messageToJson(type, decoded)).toStrictEqual(json);
  });

  test('re-encodes to exactly the bytes the runtime sent', () => {
    const decoded = decodeMessage(type, bin);
    expect(Buffer.from(encodeMessage(type, decoded)).equals(bin)).toBe(true);
  });

  test('encodes from its JSON to the same bytes (map entries in the runtime\'s order)', () => {
    const fromJson = messageFromJson<Record<string, unknown>>(type, json);
    // Go writes map entries in random order and JSON sorts them; put them in wire order.
    const order = annotationOrder(decodeMessage(type, bin));
    if (order.length > 0) {
      const oci = fromJson.OCI as { Annotations: Record<string, string> };
      oci.Annotations = Object.fromEntries(order.map((k) => [k, oci.Annotations[k]!]));
    }
    expect(Buffer.from(encodeMessage(type, fromJson)).equals(bin)).toBe(true);
  });
});

describe('what the decoded requests look like to a handler', () => {
  test('CreateContainer: proto field names, zero defaults, exact 64-bit strings, null for absent messages', () => {
    const req = decodeMessage<Record<string, any>>(requestType('CreateContainer'), load('create-container-blk').bin);
    expect(req.container_id).toBe('3f6c2a9d8e1b4c7a9f0e2d1c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2');
    expect(req.sandbox_pidns).toBe(false);
    expect(req.string_user).toBeNull();
    expect(req.devices).toEqual([]);
    expect(req.storages[0]).toMatchObject({ driver: 'blk', source: '02/00', fstype: 'ext4', options: [], shared: false, fs_group: null });
    expect(req.OCI.Process.OOMScoreAdj).toBe('936');
    expect(req.OCI.Process.User).toEqual({ UID: 101, GID: 101, AdditionalGids: [101], Username: '' });
    expect(req.OCI.Process.Rlimits).toEqual([{ Type: 'RLIMIT_NOFILE', Hard: '1048576', Soft: '1048576' }]);
    expect(req.OCI.Linux.Resources.Memory.Limit).toBe('268435456');
    expect(req.OCI.Linux.Namespaces.map((n: { Type: string }) => n.Type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(req.OCI.Hooks).toBeNull();
    const syscalls = req.OCI.Linux.Seccomp.Syscalls;
    expect(syscalls[2].errnoret).toBe(1);
    expect(syscalls[0].errnoret).toBeUndefined(); // oneof member: absent stays absent
  });

  test('UpdateInterface and UpdateRoutes: enums by name, mtu as exact string', () => {
    const iface = decodeMessage<Record<string, any>>(requestType('UpdateInterface'), load('update-interface').bin).interface;
    expect(iface.mtu).toBe('1450');
    expect(iface.IPAddresses.map((a: { family: string }) => a.family)).toEqual(['v4', 'v6']);
    const routes = decodeMessage<Record<string, any>>(requestType('UpdateRoutes'), load('update-routes').bin).routes.Routes;
    expect(routes.map((r: { gateway: string; scope: number }) => [r.gateway, r.scope])).toEqual([['', 253], ['10.244.1.1', 0], ['', 0]]);
  });
});
