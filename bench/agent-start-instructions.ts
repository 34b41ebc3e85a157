// The agent's start on the host, counted in instructions (valgrind's callgrind) rather than
// timed: the count does not move with the machine's load, so one run per variant is enough and
// a change of 1% shows. Each variant runs to "agent ready" and exits (--exit-when-ready); the
// baseline is a bare `node -e 0` under the same counting.
//   node bench/run.mjs agent-start-instructions
// Needs valgrind and a built dist/ (npm run build). Node runs with --predictable and fixed seeds,
// which make V8's work the same from run to run. The host's run is a proxy for the guest's: it
// listens on a unix socket where the guest listens on vsock, and logs to a file where the guest
// logs to its console, but the agent's own start is the same code from the same kind of blob.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAgentSnapshot, SNAPSHOT_NODE_OPTIONS } from '../image-builder/src/rootfs/agent-snapshot';
import { agentBlobDir } from './agent-blob-dir';

const NODE_FLAGS = ['--predictable', '--hash-seed=1', '--random-seed=1'];
const EMPTY_MAIN = `require('node:v8').startupSnapshot.setDeserializeMainFunction(() => {
  if (!process.argv.includes('--version')) require('node:fs').writeSync(2, 'ready\\n');
});
`;

async function instructions(work: string, args: string[]): Promise<number> {
  const summary = join(work, 'valgrind.log');
  // Node's stderr is a file, as the guest's console is not a pipe: the agent then logs with
  // plain writes (a pipe would have it set up process.stderr's stream, which the guest does not).
  const stderr = openSync(join(work, 'stderr.log'), 'w');
  try {
    const child = spawn('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', `--log-file=${summary}`, process.execPath, ...NODE_FLAGS, ...args], {
      // The host's NODE_EXTRA_CA_CERTS makes Node parse every CA certificate at start (4x the
      // instructions of a bare start); the guest has no such setting.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'ignore', stderr],
    });
    const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('exit', resolve));
    if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}: ${readFileSync(join(work, 'stderr.log'), 'utf8').slice(-2000)}`);
  } finally {
    closeSync(stderr);
  }
  const m = /Collected : (\d+)/.exec(readFileSync(summary, 'utf8'));
  if (!m) throw new Error(`no instruction count in ${summary}`);
  return Number(m[1]);
}

async function main(): Promise<void> {
  const work = agentBlobDir('agent-start-instructions-');
  try {
    writeFileSync(join(work, 'empty.cjs'), EMPTY_MAIN);
    const blobs = {
      agent: await buildAgentSnapshot({ node: process.execPath, entry: 'dist/agent-snapshot.cjs', blob: join(work, 'agent.blob') }),
      'agent, no bytecode': await buildAgentSnapshot({ node: process.execPath, entry: 'dist/agent-snapshot.cjs', blob: join(work, 'agent-nobc.blob'), keepBytecode: false }),
      empty: await buildAgentSnapshot({ node: process.execPath, entry: join(work, 'empty.cjs'), blob: join(work, 'empty.blob') }),
    };
    const agentArgs = (blob: string, n: number) => [...SNAPSHOT_NODE_OPTIONS, '--snapshot-blob', blob, '--', '--server-addr', `unix://${join(work, `a${n}.sock`)}`, '--exit-when-ready'];
    const rows: Array<[string, number, number]> = [];
    const bare = await instructions(work, ['-e', '0']);
    const measure = async (name: string, args: string[], bytes: number) => rows.push([name, await instructions(work, args), bytes]);
    await measure('empty snapshot', [...SNAPSHOT_NODE_OPTIONS, '--snapshot-blob', join(work, 'empty.blob')], blobs.empty.bytes);
    await measure('agent snapshot, no bytecode', agentArgs(join(work, 'agent-nobc.blob'), 1), blobs['agent, no bytecode'].bytes);
    await measure('agent snapshot', agentArgs(join(work, 'agent.blob'), 2), blobs.agent.bytes);
    await measure('agent bundle', ['dist/agent.js', '--server-addr', `unix://${join(work, 'a3.sock')}`, '--exit-when-ready'], 0);

    console.log(`instructions to "agent ready" (callgrind, node ${process.version}); bare node -e 0: ${(bare / 1e6).toFixed(1)} M`);
    console.log('variant                      | M instructions | x node -e 0 | blob');
    for (const [name, count, bytes] of rows) {
      console.log(`${name.padEnd(28)} | ${(count / 1e6).toFixed(1).padStart(14)} | ${(count / bare).toFixed(3).padStart(11)} | ${bytes ? `${(bytes / 1e6).toFixed(2)} MB` : '-'}`);
    }
    console.log('target: agent snapshot x node -e 0 <= 1.2 (the guest figure is bench/agent-ready.ts)');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
