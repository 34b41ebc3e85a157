// The agent's protobuf codec (agent/src/proto/codec.ts) against protobufjs, the library it
// replaced at run time, measured in the same run on the same messages: a real Kata
// CreateContainer request (decode to a handler object, and encode it again) and a StatsContainer
// reply (encode). protobufjs's side is what the agent used to do minus its strict wire check,
// so a ratio of 1 means no slower than before.
//   node bench/run.mjs codec [--rounds 5] [--iterations 2000]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { IConversionOptions } from 'protobufjs';
import { decodeMessage, encodeMessage, messageType } from '../agent/src/proto/schema';
import { parseRoot } from '../scripts/proto-descriptor.mjs';
import { KATA_FIXTURES_FROM_ROOT } from '../test/fixtures';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, iterations: { type: 'string', default: '2000' } } });
const rounds = Number(values.rounds);
const iterations = Number(values.iterations);
const FIXTURE = join(process.cwd(), KATA_FIXTURES_FROM_ROOT, 'create-container-virtiofs.bin');
const HANDLER: IConversionOptions = { longs: String, enums: String, defaults: true, arrays: true, objects: true, oneofs: false };

// Bundled into dist/bench, the script's own directory is not the repository's: run from its root.
const root = parseRoot(join(process.cwd(), 'agent/src/proto'));
const request = readFileSync(FIXTURE);
const oursRequest = messageType('grpc.CreateContainerRequest');
const theirsRequest = root.lookupType('grpc.CreateContainerRequest');
const decoded = decodeMessage<Record<string, unknown>>(oursRequest, request);
const stats = {
  cgroup_stats: {
    cpu_stats: { cpu_usage: { total_usage: '123456789012', percpu_usage: ['1', '2', '3', '4'], usage_in_kernelmode: '5', usage_in_usermode: '6' }, throttling_data: { periods: '1', throttled_periods: '2', throttled_time: '3' } },
    memory_stats: { cache: '1048576', usage: { usage: '73400320', max_usage: '80000000', failcnt: '1', limit: '9223372036854771712' }, use_hierarchy: true, stats: { rss: '1', cache: '2', swap: '4' } },
    pids_stats: { current: '3', limit: '1024' },
  },
  network_stats: [{ name: 'eth0', rx_bytes: '1000', rx_packets: '10', tx_bytes: '2000', tx_packets: '20' }],
};
const oursStats = messageType('grpc.StatsContainerResponse');
const theirsStats = root.lookupType('grpc.StatsContainerResponse');
// protobufjs encodes its own message instance (no validation pass): its fastest path.
const theirsMessage = theirsRequest.decode(request);

const cases: Array<[name: string, ours: () => unknown, theirs: () => unknown]> = [
  ['decode CreateContainer', () => decodeMessage(oursRequest, request), () => theirsRequest.toObject(theirsRequest.decode(request), HANDLER)],
  ['encode CreateContainer', () => encodeMessage(oursRequest, decoded), () => theirsRequest.encode(theirsMessage).finish()],
  ['encode StatsContainer reply', () => encodeMessage(oursStats, stats), () => theirsStats.encode(theirsStats.fromObject(stats)).finish()],
];

function usPerOp(fn: () => unknown): number {
  const start = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  return ((performance.now() - start) * 1000) / iterations;
}

console.log(`protobuf codec, ${iterations} operations per round, median of ${rounds} rounds (${request.length}-byte CreateContainer fixture)`);
console.log('operation                   | ours us/op | protobufjs us/op | ours / protobufjs');
for (const [name, ours, theirs] of cases) {
  // Same bytes out (the runtime's own, for the request), or the comparison means nothing.
  if (name.startsWith('encode') && Buffer.compare(Buffer.from(ours() as Uint8Array), Buffer.from(theirs() as Uint8Array)) !== 0) throw new Error(`${name}: outputs differ`);
  if (name === 'encode CreateContainer' && Buffer.compare(Buffer.from(ours() as Uint8Array), request) !== 0) throw new Error(`${name}: not the runtime's bytes`);
  usPerOp(ours);
  usPerOp(theirs);
  const o: number[] = [];
  const t: number[] = [];
  for (let r = 0; r < rounds; r++) {
    o.push(usPerOp(ours));
    t.push(usPerOp(theirs));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`${name.padEnd(27)} | ${median(o).toFixed(1).padStart(10)} | ${median(t).toFixed(1).padStart(16)} | ${(median(o) / median(t)).toFixed(2).padStart(17)}`);
}
