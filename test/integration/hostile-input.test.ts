// Our own hostile suite (issue 16, item 8): the bundled agent, every AgentService method, fed
// deterministic mutations of a valid request (the Kata 3.19.1 runtime's own where the fixtures
// have one, else a message built from the schema): truncated, bytes flipped, a length-delimited
// field claiming far more than is there or truly a MiB long, wrong wire types, unknown fields.
// Each answer must be a status the agent chose (never UNKNOWN) or an OK whose payload decodes;
// after each method's batch the agent is alive, answers Health/Check and has no child left.
// Then ids that must never become path components: INVALID_ARGUMENT, whatever the method.
//
// The agent runs as root, as in a guest, but confined so that no request reaches the host: its own
// mount, network, UTS and IPC namespaces; every mount read-only except a tmpfs at
// /run/kata-containers and the socket's directory; a /dev with character devices only (nothing
// to mount or swap on); and no CAP_SYS_TIME, CAP_SYS_MODULE, CAP_SYS_BOOT, CAP_MKNOD or
// CAP_SYS_RAWIO (SetGuestDateTime, kernel modules, new device nodes).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import { AGENT_SERVICE, type Field, type MessageType, type MethodInfo, decodeMessage, encodeMessage, serviceMethods } from '../../agent/src/proto/schema';
import { Code, RpcError, codeName } from '../../agent/src/ttrpc/status';
import { kataFixture } from '../fixtures';
import { AGENT_BUNDLE, tempDir } from '../helpers/agent-process';
import { notRootReason, skipUnlessAvailable, toolMissingReason } from '../helpers/requirement';

const SEED = 0x16_08;
/** Longer than any answer may take here (hotplug waits are cut to 300 ms): past it, a hang. */
const HANG_MS = 5_000;
/** Methods that wait by design (for an OOM event): called with a deadline, which must be met. */
const WAITS_BY_DESIGN = new Set(['GetOOMEvent']);

/** mulberry32: a seeded PRNG, so that each run sends the same bytes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function varint(n: bigint | number): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

const tag = (id: number, wire: number) => varint((id << 3) | wire);
const lenField = (id: number, body: ArrayLike<number>) => [...tag(id, 2), ...varint(body.length), ...Array.from(body)];

/**
 * A valid encoding of `type` with every field set (one member per oneof, one element per
 * repeated field or map), messages to depth 3: a request that reaches deep into its handler.
 */
function sampleMessage(type: MessageType, depth = 0): number[] {
  const out: number[] = [];
  const oneofs = new Set<string>();
  for (const f of type.writeOrder) {
    if (f.oneof !== undefined && !f.oneof.startsWith('_')) {
      if (oneofs.has(f.oneof)) continue;
      oneofs.add(f.oneof);
    }
    if (f.kind === 'message' && depth >= 3) continue;
    if (f.map) {
      out.push(...lenField(f.id, [...scalarField(1, f.keyType!), ...valueField(2, f, depth)]));
      continue;
    }
    out.push(...valueField(f.id, f, depth));
  }
  return out;
}

function valueField(id: number, f: Field, depth: number): number[] {
  if (f.kind === 'message') return lenField(id, sampleMessage(f.message!, depth + 1));
  const [wire, bytes] = f.kind === 'enum' ? [0, varint(Object.values(f.enum!.values).find((v) => v > 0) ?? 0)] : scalarValue(f.type);
  // Repeated numbers go packed, as proto3 encoders write them.
  return f.packed && !f.map ? lenField(id, bytes) : [...tag(id, wire), ...bytes];
}

function scalarField(id: number, type: string): number[] {
  const [wire, bytes] = scalarValue(type);
  return [...tag(id, wire), ...bytes];
}

/** A value of a scalar type: its wire type and bytes (a length-delimited one with its length). */
function scalarValue(type: string): [number, number[]] {
  switch (type) {
    case 'string':
      return [2, [1, 0x78]];
    case 'bytes':
      return [2, [3, 1, 2, 3]];
    case 'double':
    case 'fixed64':
    case 'sfixed64':
      return [1, [1, 0, 0, 0, 0, 0, 0, 0]];
    case 'float':
    case 'fixed32':
    case 'sfixed32':
      return [5, [1, 0, 0, 0]];
    default:
      return [0, [1]];
  }
}

const FIXTURE_OF: Record<string, string> = {
  CreateSandbox: 'create-sandbox-virtiofs.bin',
  CreateContainer: 'create-container-virtiofs.bin',
  ExecProcess: 'exec-process-tty.bin',
  UpdateInterface: 'update-interface.bin',
  UpdateRoutes: 'update-routes.bin',
  AddARPNeighbors: 'add-arp-neighbors.bin',
};

function validRequest(m: MethodInfo): Uint8Array {
  const fixture = FIXTURE_OF[m.method];
  return fixture ? kataFixture(fixture) : Uint8Array.from(sampleMessage(m.requestType));
}

/** The wire type a field is not: what a confused or hostile encoder sends in its place. */
function wrongWire(f: Field): number[] {
  switch (f.wire) {
    case 0:
      return lenField(f.id, Buffer.from('not a number'));
    case 2:
      return [...tag(f.id, 0), ...varint(0xffffffffn)];
    case 1:
      return [...tag(f.id, 5), 1, 2, 3, 4];
    default:
      return [...tag(f.id, 1), 1, 2, 3, 4, 5, 6, 7, 8];
  }
}

interface Mutation {
  name: string;
  bytes: Uint8Array;
}

/** A handful of mutations of `valid`, the same on every run for one method. */
function mutations(m: MethodInfo, valid: Uint8Array, rand: () => number): Mutation[] {
  const pick = (n: number) => Math.floor(rand() * n);
  const out: Mutation[] = [];
  const fields = m.requestType.writeOrder;
  if (valid.length >= 2) out.push({ name: 'truncated', bytes: valid.subarray(0, 1 + pick(valid.length - 1)) });
  for (let round = 0; round < 3; round++) {
    const b = Uint8Array.from(valid.length ? valid : [0x08, 0x01]);
    for (let i = 0; i < 1 + pick(3); i++) b[pick(b.length)]! ^= 1 + pick(255);
    out.push({ name: `flipped #${round}`, bytes: b });
  }
  const len = fields.find((f) => f.wire === 2) ?? { id: 1 + pick(15) };
  out.push({ name: `field ${len.id} claims 2^36 bytes`, bytes: Uint8Array.from([...valid, ...tag(len.id, 2), ...varint(1n << 36n), 0x61, 0x62]) });
  const str = fields.find((f) => f.type === 'string' && !f.repeated && !f.map);
  if (str) out.push({ name: `string field ${str.name} of 1 MiB`, bytes: Uint8Array.from([...valid, ...lenField(str.id, Buffer.alloc(1 << 20, 'a'))]) });
  else out.push({ name: 'unknown field of 1 MiB', bytes: Uint8Array.from([...valid, ...lenField(4097, Buffer.alloc(1 << 20, 0xff))]) });
  if (fields.length) {
    const f = fields[pick(fields.length)]!;
    out.push({ name: `field ${f.name} with a wrong wire type`, bytes: Uint8Array.from([...valid, ...wrongWire(f)]) });
  }
  out.push({
    name: 'unknown fields of every wire type',
    bytes: Uint8Array.from([
      ...valid,
      ...tag(1000, 0), ...varint(0xffffffffffffffffn),
      ...tag(1001, 1), 1, 2, 3, 4, 5, 6, 7, 8,
      ...lenField(1002, [0xde, 0xad]),
      ...tag(1003, 5), 1, 2, 3, 4,
      ...tag(1004, 3), ...tag(1004, 4), // an empty group
    ]),
  });
  out.push({ name: 'wire type 7 (none such)', bytes: Uint8Array.from([...valid, ...tag(1 + pick(20), 7), 0]) });
  return out;
}

type Answer = { ok: true; payload: Buffer } | { ok: false; code: number; message: string };

interface ConfinedAgent {
  child: ChildProcess;
  pid: number;
  address: string;
  logs: string[];
  children(): number[];
  stop(): Promise<void>;
}

/** The bundled agent as root, confined as the file's header says. */
async function startConfinedAgent(): Promise<ConfinedAgent> {
  const dir = tempDir('hostile-');
  const address = `unix://${path.join(dir, 'agent.sock')}`;
  mkdirSync('/run/kata-containers', { recursive: true });
  const script = String.raw`
set -e
dir=$1; shift
# The socket's directory: a mount of its own, so that it stays writable once the rest is not.
mount --bind "$dir" "$dir"
mount -t tmpfs -o mode=755 tmpfs /run/kata-containers
mkdir -p /run/kata-containers/shared/containers
# /dev with character devices only: no block device to mount, swap on or format.
mkdir "$dir/dev"
mount -t tmpfs -o mode=755 tmpfs "$dir/dev"
for d in null zero full random urandom tty; do touch "$dir/dev/$d"; mount --bind "/dev/$d" "$dir/dev/$d"; done
mkdir "$dir/dev/pts" "$dir/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$dir/dev/pts"
ln -s pts/ptmx "$dir/dev/ptmx"
mount --bind /proc/sys /proc/sys
[ ! -e /proc/sysrq-trigger ] || mount --bind /dev/null /proc/sysrq-trigger
mount --move "$dir/dev" /dev
for m in $(awk '{print $5}' /proc/self/mountinfo); do
  case "$m" in /proc|/proc/[!s]*|/dev|/dev/*|/run/kata-containers|"$dir"|"$dir"/*) continue;; esac
  mount -n -o remount,bind,ro "$m"
done
exec setpriv --bounding-set -sys_time,-sys_module,-sys_boot,-mknod,-sys_rawio -- "$@"
`;
  const child = spawn(
    'unshare',
    ['-m', '-n', '-u', '-i', '--propagation', 'private', 'sh', '-c', script, 'sh', dir,
      process.execPath, AGENT_BUNDLE, '--server-addr', address, '--no-grpc', '--cmdline', 'agent.hotplug_timeout=0.3'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const logs: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`confined agent not ready; stderr: ${logs.join('\n')}`)), 20_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      logs.push(line);
      if (line.includes('"msg":"agent ready"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`confined agent exited with ${code}; stderr: ${logs.join('\n')}`));
    });
  });
  const pid = child.pid!;
  return {
    child,
    pid,
    address,
    logs,
    children: () => {
      // Every thread's children: a process the agent spawned from any of them.
      const out: number[] = [];
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
        if (text) out.push(...text.split(' ').map(Number));
      }
      return out;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const skip = skipUnlessAvailable(notRootReason() ?? toolMissingReason('setpriv', 'util-linux') ?? toolMissingReason('unshare', 'util-linux'));

describe.skipIf(skip)('the agent under hostile requests', () => {
  let agent: ConfinedAgent;
  let client: AgentClient;

  beforeAll(async () => {
    agent = await startConfinedAgent();
    client = await AgentClient.connect(agent.address);
  });

  afterAll(async () => {
    client?.close();
    await agent?.stop();
  });

  async function send(m: MethodInfo, bytes: Uint8Array): Promise<Answer> {
    const opts = WAITS_BY_DESIGN.has(m.method) ? { timeoutMs: 300 } : {};
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${m.method}: no answer within ${HANG_MS} ms (a hang)`)), HANG_MS);
    });
    try {
      const payload = await Promise.race([client.ttrpc.call(m.service, m.method, bytes, opts), hang]);
      return { ok: true, payload };
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      return { ok: false, code: err.code, message: err.message };
    } finally {
      clearTimeout(timer);
    }
  }

  async function healthy(after: string): Promise<void> {
    expect(agent.child.exitCode, `agent exited after ${after}`).toBeNull();
    expect(agent.child.signalCode, `agent killed after ${after}`).toBeNull();
    expect(await client.request('Health/Check', {}, { timeoutMs: 2_000 }), `Health/Check after ${after}`).toEqual({ status: 'SERVING' });
  }

  /** What a successful call of these made (a sandbox, a container) is undone before counting children. */
  const MAKES_PROCESSES = new Set(['CreateSandbox', 'CreateContainer', 'StartContainer', 'ExecProcess']);

  it('answers every mutated request of every AgentService method with a status of its own, and stays well', async () => {
    const methods = serviceMethods(AGENT_SERVICE);
    expect(methods).toHaveLength(42);
    // SetPolicy last: a mutation it accepts may deny what follows.
    const ordered = [...methods.filter((m) => m.method !== 'SetPolicy'), ...methods.filter((m) => m.method === 'SetPolicy')];
    const rand = prng(SEED);
    const tally: Record<string, number> = {};
    const bad: string[] = [];
    for (const m of ordered) {
      const valid = validRequest(m);
      // The valid request itself is what the mutations start from: it must encode one.
      expect(() => decodeMessage(m.requestType, valid), m.method).not.toThrow();
      let madeSomething = false;
      for (const mut of mutations(m, valid, rand)) {
        const answer = await send(m, mut.bytes);
        const what = `${m.method} (${mut.name})`;
        if (answer.ok) {
          tally.OK = (tally.OK ?? 0) + 1;
          if (MAKES_PROCESSES.has(m.method)) madeSomething = true;
          try {
            decodeMessage(m.responseType, answer.payload);
          } catch (err) {
            bad.push(`${what}: OK with a payload that is no ${m.responseType.name}: ${(err as Error).message}`);
          }
          continue;
        }
        tally[codeName(answer.code)] = (tally[codeName(answer.code)] ?? 0) + 1;
        if (answer.code === Code.UNKNOWN || Code[answer.code] === undefined) bad.push(`${what}: ${codeName(answer.code)}: ${answer.message}`);
        if (WAITS_BY_DESIGN.has(m.method) && answer.code !== Code.DEADLINE_EXCEEDED && answer.code !== Code.INVALID_ARGUMENT) {
          bad.push(`${what}: ${codeName(answer.code)}: ${answer.message}`);
        }
      }
      await healthy(`${m.method}'s batch`);
      if (madeSomething) await client.request('DestroySandbox', {}, { timeoutMs: 10_000 }).catch(() => undefined);
      expect(agent.children(), `children of the agent after ${m.method}'s batch`).toEqual([]);
    }
    process.stderr.write(`[hostile-input] answers: ${JSON.stringify(tally)}\n`);
    expect(bad).toEqual([]);
    expect(agent.logs.filter((l) => /"level":"(critical|fatal)"|uncaught|unhandled/i.test(l))).toEqual([]);
  });

  // Ids become path components (/run/kata-containers/<cid>, the share's <cid>/rootfs).
  const BAD_IDS: Record<string, string> = {
    'a slash': 'a/b',
    'a dot-dot': '..',
    'a dot-dot inside': 'a..b',
    'a leading dot-dot': '../etc',
    'a NUL': 'ab\0cd',
    '1000 characters': 'a'.repeat(1000),
    'unicode': 'конт\u202eейнер',
    'a space': 'a b',
  };
  const ID_METHODS: Array<[string, (id: string) => Record<string, unknown>]> = [
    ['StartContainer', (id) => ({ container_id: id })],
    ['RemoveContainer', (id) => ({ container_id: id })],
    ['StatsContainer', (id) => ({ container_id: id })],
    ['PauseContainer', (id) => ({ container_id: id })],
    ['ResumeContainer', (id) => ({ container_id: id })],
    ['UpdateContainer', (id) => ({ container_id: id })],
    ['SignalProcess', (id) => ({ container_id: id, exec_id: id, signal: 9 })],
    ['WaitProcess', (id) => ({ container_id: id })],
    ['WriteStdin', (id) => ({ container_id: id, data: Buffer.from('x') })],
    ['ReadStdout', (id) => ({ container_id: id, len: 10 })],
    ['ReadStderr', (id) => ({ container_id: id, len: 10 })],
    ['CloseStdin', (id) => ({ container_id: id })],
    ['TtyWinResize', (id) => ({ container_id: id, row: 1, column: 1 })],
    ['ExecProcess', (id) => ({ container_id: 'c1', exec_id: id, process: { Args: ['true'], Cwd: '/' } })],
    ['ExecProcess', (id) => ({ container_id: id, exec_id: 'e1', process: { Args: ['true'], Cwd: '/' } })],
    ['SignalProcess', (id) => ({ container_id: 'c1', exec_id: id, signal: 9 })],
    ['WaitProcess', (id) => ({ container_id: 'c1', exec_id: id })],
    ['ReadStdout', (id) => ({ container_id: 'c1', exec_id: id, len: 10 })],
  ];

  it('refuses container and exec ids that are no path component with INVALID_ARGUMENT, in every method that takes one', async () => {
    const containerRequest = JSON.parse(kataFixture('create-container-virtiofs.json').toString('utf8')) as Record<string, unknown>;
    const sandboxRequest = JSON.parse(kataFixture('create-sandbox-virtiofs.json').toString('utf8')) as Record<string, unknown>;
    const wrong: string[] = [];
    for (const [kind, id] of Object.entries(BAD_IDS)) {
      const calls: Array<[string, Promise<unknown>]> = [
        ...ID_METHODS.map(([method, req]): [string, Promise<unknown>] => [method, client.request(method, req(id), { timeoutMs: HANG_MS })]),
        ['CreateContainer', client.requestJson('CreateContainer', { ...containerRequest, container_id: id }, { timeoutMs: HANG_MS })],
        ['CreateContainer (exec_id)', client.requestJson('CreateContainer', { ...containerRequest, exec_id: id }, { timeoutMs: HANG_MS })],
        ['CreateSandbox (sandbox_id)', client.requestJson('CreateSandbox', { ...sandboxRequest, sandbox_id: id }, { timeoutMs: HANG_MS })],
      ];
      for (const [method, call] of calls) {
        const answer = await call.then(() => 'OK', (err: unknown) => (err instanceof RpcError ? codeName(err.code) : String(err)));
        if (answer !== 'INVALID_ARGUMENT') wrong.push(`${method} with ${kind}: ${answer}`);
      }
    }
    expect(wrong).toEqual([]);
    await healthy('the bad ids');
    expect(agent.children()).toEqual([]);
  });

  it('refuses paths outside the guest\'s roots in CopyFile, GetVolumeStats and AddSwapPath with INVALID_ARGUMENT or PERMISSION_DENIED', async () => {
    const paths = ['/etc/passwd', '/run/kata-containers/../../etc/shadow', '/run/kata-containers/shared/containers/a\0b', `/run/kata-containers/${'a'.repeat(300)}`, `/run/kata-containers/shared/containers/${'d/'.repeat(2100)}x`, 'relative/path', ''];
    const wrong: string[] = [];
    for (const p of paths) {
      const calls: Array<[string, Promise<unknown>]> = [
        ['CopyFile', client.request('CopyFile', { path: p, file_size: '1', file_mode: 0o644, offset: '0', data: Buffer.from('x') }, { timeoutMs: HANG_MS })],
        ['GetVolumeStats', client.request('GetVolumeStats', { volume_guest_path: p }, { timeoutMs: HANG_MS })],
        ['AddSwapPath', client.request('AddSwapPath', { path: p }, { timeoutMs: HANG_MS })],
      ];
      for (const [method, call] of calls) {
        const answer = await call.then(() => 'OK', (err: unknown) => (err instanceof RpcError ? codeName(err.code) : String(err)));
        if (answer !== 'INVALID_ARGUMENT' && answer !== 'PERMISSION_DENIED') wrong.push(`${method} of ${JSON.stringify(p.slice(0, 60))}: ${answer}`);
      }
    }
    expect(wrong).toEqual([]);
    await healthy('the bad paths');
  });

  it('answers a deep guest path at once: 1000 directories that exist, 1000 components that do not', async () => {
    // Within PATH_MAX, and CopyFile makes the directories (its parents) as a runtime may.
    const deep = `/run/kata-containers/shared/containers/${'d/'.repeat(1000)}`;
    await client.request('CopyFile', { path: `${deep}f`, file_size: '1', file_mode: 0o100644, dir_mode: 0o40755, offset: '0', data: Buffer.from('x') }, { timeoutMs: HANG_MS });
    const missing = `${deep}${'m/'.repeat(1000)}x`;
    expect(Buffer.byteLength(missing)).toBeLessThan(4096);
    for (const [method, req] of [['AddSwapPath', { path: missing }], ['GetVolumeStats', { volume_guest_path: missing }], ['AddSwapPath', { path: `${deep}f` }]] as const) {
      const t0 = performance.now();
      const answer = await client.request(method, req, { timeoutMs: HANG_MS }).then(() => 'OK', (err: unknown) => (err instanceof RpcError ? codeName(err.code) : String(err)));
      const ms = performance.now() - t0;
      process.stderr.write(`[hostile-input] ${method} of ${Object.values(req)[0]!.length} bytes: ${answer} in ${ms.toFixed(0)} ms\n`);
      expect(answer, method).not.toBe('OK');
      // Before, the confinement's walk up the missing part took a realpath of the whole prefix per step: 10 s and more.
      expect(ms, method).toBeLessThan(1_000);
    }
    await healthy('the deep paths');
  });
});

// The encoder of the minimal requests is itself checked: each is a valid message of its type.
describe('the hostile suite\'s sample requests', () => {
  it('decode as their request type for every AgentService method', () => {
    for (const m of serviceMethods(AGENT_SERVICE)) {
      const bytes = validRequest(m);
      expect(Buffer.from(encodeMessage(m.requestType, decodeMessage(m.requestType, bytes))).length, m.method).toBe(bytes.length);
    }
  });
});
