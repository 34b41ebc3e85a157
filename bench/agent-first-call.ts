// How much slower the agent answers its first call than the next, on the host: the first call
// of a boot runs code that nothing ran before it (frames, dispatch, protobuf codecs), which the
// startup snapshot compiles in advance (agent/src/startup-snapshot.ts). Each round starts the
// agent from a freshly built blob, waits for "agent ready", then times Health Check twice.
//   node bench/run.mjs agent-first-call [--rounds N]
// Needs a built dist/ (npm run build).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AgentClient } from '../agent/client/agent-client';
import { buildAgentSnapshot, SNAPSHOT_NODE_OPTIONS } from '../image-builder/src/rootfs/agent-snapshot';
import { agentBlobDir } from './agent-blob-dir';
import { startAgentUntilReady } from './agent-process';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
const rounds = Number(values.rounds);

async function startAgent(blob: string, sock: string): Promise<() => void> {
  const child = await startAgentUntilReady([...SNAPSHOT_NODE_OPTIONS, '--snapshot-blob', blob, '--'], sock);
  return () => child.kill('SIGKILL');
}

async function timed(call: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await call();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const work = agentBlobDir('agent-first-call-');
  try {
    const blob = join(work, 'agent.blob');
    await buildAgentSnapshot({ node: process.execPath, entry: 'dist/agent-snapshot.cjs', blob });
    const first: number[] = [];
    const second: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const sock = join(work, `a${i}.sock`);
      const stop = await startAgent(blob, sock);
      try {
        const client = await AgentClient.connect(`unix://${sock}`);
        first.push(await timed(() => client.request('Health/Check')));
        second.push(await timed(() => client.request('Health/Check')));
        client.close();
      } finally {
        stop();
      }
    }
    console.log(`Health Check on a fresh agent (snapshot), median of ${rounds}, wall clock on the host`);
    console.log(`first call ${median(first).toFixed(2)} ms, second ${median(second).toFixed(2)} ms: first / second = ${(median(first) / median(second)).toFixed(2)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
