// The agent started from a V8 startup snapshot, as the image's /sbin/init starts it: the blob is
// built the way the image builder builds it (from dist/agent-snapshot.cjs), placed in a directory
// of its own with the addon beside it, and must serve ttRPC and gRPC, take its arguments after
// "--", and load the native addon and grpc-js from where the blob is, not where it was built.
import * as grpc from '@grpc/grpc-js';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import { buildAgentSnapshot } from '../../image-builder/src/rootfs/agent-snapshot';
import { blobPath } from '../../agent/src/startup-snapshot';
import { type AgentProcess, REPO_ROOT, startAgentProcess, tempDir } from '../helpers/agent-process';

describe('the agent from a V8 startup snapshot', () => {
  let dir: string;
  let blob: string;
  let agent: AgentProcess | undefined;
  beforeAll(async () => {
    dir = tempDir('snapshot-');
    blob = path.join(dir, 'agent.blob');
    const built = await buildAgentSnapshot({ node: process.execPath, entry: path.join(REPO_ROOT, 'dist/agent-snapshot.cjs'), blob });
    // The bytecode of what ran at build time is kept (not compiled again at each start).
    expect(built).toMatchObject({ keepsBytecode: true, fallbackReason: undefined });
    mkdirSync(path.join(dir, 'native'));
    copyFileSync(path.join(REPO_ROOT, 'dist/native/kata_native.node'), path.join(dir, 'native/kata_native.node'));
    copyFileSync(path.join(REPO_ROOT, 'dist/grpc-js.cjs'), path.join(dir, 'grpc-js.cjs'));
  }, 120_000);
  afterAll(async () => {
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves ttRPC and gRPC with its addon found beside the blob', async () => {
    const sock = path.join(dir, 'a.sock');
    agent = await startAgentProcess({ snapshotBlob: blob, args: ['--server-addr', `unix://${sock}`, '--log-level', 'debug'] });
    const ready = agent.logs.find((l) => l.msg === 'agent ready')!;
    expect(ready.address).toBe(`unix://${sock}`);
    // The reaper is the first user of the addon; it would warn if the addon were not found.
    expect(agent.logs.filter((l) => l.level === 'warn')).toEqual([]);
    const client = await AgentClient.connect(`unix://${sock}`);
    try {
      expect(await client.request('Health/Check')).toEqual({ status: 'SERVING' });
      // The schema table in the snapshot encodes and decodes a real call.
      expect(await client.request('Health/Version')).toEqual({ grpc_version: '0.0.1', agent_version: '0.1.0' });
    } finally {
      client.close();
    }
    // grpc-js is not in the snapshot's startup work: it is required at run time, from the blob's place.
    const grpcClient = new grpc.Client(`unix://${sock}`, grpc.credentials.createInsecure());
    try {
      const reply = await new Promise<Buffer>((resolve, reject) =>
        grpcClient.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err, res) => (err ? reject(err) : resolve(res!))),
      );
      expect([...reply]).toEqual([0x08, 0x01]);
    } finally {
      grpcClient.close();
    }
  });

  it('starts without compiling again what ran while the blob was built', async () => {
    // V8's function events name each function it compiles; those of the bundle that the
    // snapshot builder ran (config, logging, addresses, services) must come with their bytecode.
    const events = path.join(dir, 'functions.log');
    const sock = path.join(dir, 'b.sock');
    const probe = await startAgentProcess({
      snapshotBlob: blob,
      nodeArgs: ['--log-function-events', `--logfile=${events}`, '--no-logfile-per-isolate'],
      args: ['--server-addr', `unix://${sock}`],
    });
    // The first call, too, runs code the builder ran (frames, dispatch, protobuf decode/encode).
    const client = await AgentClient.connect(`unix://${sock}`);
    try {
      expect(await client.request('Health/Check')).toEqual({ status: 'SERVING' });
    } finally {
      client.close();
    }
    await probe.stop();
    const compiled = compiledFunctions(readFileSync(events, 'utf8'), 'agent-snapshot.cjs');
    // Not run at build time: compiled at start (the check would pass vacuously without events).
    expect(compiled).toContain('main');
    const warmed = ['loadConfig', 'applyCmdline', 'parseAddress', 'errorReplacer', 'buildAgentImpl', 'buildPod', 'createContainerService', 'registerTtrpc'];
    const warmedFirstCall = ['sniffProtocol', 'serveConnection', 'decodeMessage', 'readMessage', 'encodeMessage', 'normalizeMessage', 'writeMessage'];
    for (const name of [...warmed, ...warmedFirstCall]) expect(compiled).not.toContain(name);
  });

  it('finds the blob in node\'s own options', () => {
    expect(blobPath(['--snapshot-blob', '/usr/lib/kata-agent/agent.blob'])).toBe('/usr/lib/kata-agent/agent.blob');
    expect(blobPath(['--max-semi-space-size=1', '--snapshot-blob=/b/agent.blob'])).toBe('/b/agent.blob');
    expect(blobPath(['--jitless'])).toBeUndefined();
  });
});

/** Names of the functions of `script` that V8 compiled, from a --log-function-events log. */
function compiledFunctions(log: string, script: string): string[] {
  const scriptIds = new Set<string>();
  const names: string[] = [];
  for (const line of log.split('\n')) {
    const f = line.split(',');
    if (f[0] === 'script-details' && f[2]?.endsWith(script)) scriptIds.add(f[1]!);
    // function,parse-function,SCRIPT_ID,START,END,TIME,TIMESTAMP,NAME
    if (f[0] === 'function' && f[1] === 'parse-function' && scriptIds.has(f[2]!)) names.push(f[7]!);
  }
  return names;
}
