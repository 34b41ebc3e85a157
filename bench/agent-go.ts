// The agent's whole stack against containerd's Go ttRPC (Debian's 1.1), both driven by the same Go
// ttRPC client (test/go/ttrpc-peer agent-client), measured in the same run (issue 17, item 7):
//   1. grpc.Health/Check at 1 and 64 calls in flight on one unix-socket connection: the real
//      agent bundle (dist/agent.js as a process, --no-grpc) next to a Go ttrpc server answering
//      the same messages (ttrpc-peer agent-server, the baseline). Calls/s, p50/p99, server CPU
//      per call, ratios ours/Go.
//   2. grpc.AgentService/ReadStdout of 32 KiB from a running process: the agent with crun
//      (test/helpers/container-agent.ts: startAgent + buildPod, a busybox container, an exec of
//      `dd if=/dev/zero bs=32768`), next to the Go server answering 32 KiB replies, and next to a
//      plain pipe (the same dd piped into `ttrpc-peer pipe-read`, reads of 32 KiB).
//   node bench/run.mjs agent-go [--rounds 3] [--calls 20000] [--bundle dist/agent.js]
//        [--read-calls 5000] [--skip-read-stdout] [--cpu-prof DIR]
// --cpu-prof DIR: each agent (the bundle, and the container agent) writes a V8 CPU profile there.
// Needs a built dist/ (npm run build), go and Debian's ttrpc sources; ReadStdout needs root and crun.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildGoPeer, goPeerUnavailableReason, PEER_BINARY, runGoPeer, startGoServer } from '../test/go/peer';
import { startAgentUntilReady } from './agent-process';
import { processCpuUs } from './process-cpu';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    calls: { type: 'string', default: '20000' },
    'read-calls': { type: 'string', default: '5000' },
    bundle: { type: 'string', default: 'dist/agent.js' },
    'skip-read-stdout': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const CALLS = Number(values.calls);
const READ_CALLS = Number(values['read-calls']);
const READ_LEN = 32 * 1024;

interface GoResult {
  calls: number;
  concurrency: number;
  callsPerSec: number;
  p50Us: number;
  p99Us: number;
  failed: number;
  bytes: number;
  bytesPerSec: number;
  firstError?: string;
  /** CPU time (user + system, all threads) the server process spent per call, µs. */
  serverCpuUsPerCall?: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function medianOf(rs: GoResult[]): GoResult {
  const m = (f: (r: GoResult) => number) => median(rs.map(f));
  return {
    ...rs[0]!,
    callsPerSec: m((r) => r.callsPerSec),
    p50Us: m((r) => r.p50Us),
    p99Us: m((r) => r.p99Us),
    bytesPerSec: m((r) => r.bytesPerSec),
    serverCpuUsPerCall: m((r) => r.serverCpuUsPerCall ?? 0),
    failed: rs.reduce((n, r) => n + r.failed, 0),
  };
}

/** One run of the Go client against a server; the server's CPU per call from /proc. */
async function goClient(socket: string, serverPid: number, args: string[], calls: number, warmup: number): Promise<GoResult> {
  const before = processCpuUs(serverPid);
  const r = await runGoPeer<GoResult>(['agent-client', '--socket', socket, '--calls', `${calls}`, '--warmup', `${warmup}`, ...args], 600_000);
  r.serverCpuUsPerCall = (processCpuUs(serverPid) - before) / (calls + warmup);
  if (r.failed) console.error(`  ${r.failed} calls failed, first: ${r.firstError}`);
  return r;
}

function startBundledAgent(bundle: string, sock: string, profDir: string | undefined): Promise<ChildProcess> {
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  return startAgentUntilReady([...prof, bundle], sock, ['--no-grpc']);
}

const num = (x: number, digits = 0) => x.toFixed(digits).padStart(10);
const ratio = (x: number) => `${x.toFixed(2)}x`.padStart(9);

function printTable(title: string, rows: Array<{ label: string; r: GoResult; base: GoResult }>, withBytes: boolean): void {
  console.log(title);
  console.log(
    `${'server'.padEnd(44)}${'calls/s'.padStart(10)}${'p50 µs'.padStart(10)}${'p99 µs'.padStart(10)}${'CPU µs'.padStart(10)}${withBytes ? 'MB/s'.padStart(10) : ''}` +
      `${'calls/s'.padStart(9)}${'p50'.padStart(9)}${'p99'.padStart(9)}${'CPU'.padStart(9)}  failed`,
  );
  for (const { label, r, base } of rows) {
    console.log(
      `${label.padEnd(44)}${num(r.callsPerSec)}${num(r.p50Us, 1)}${num(r.p99Us, 1)}${num(r.serverCpuUsPerCall!, 1)}${withBytes ? num(r.bytesPerSec / 1048576) : ''}` +
        `${ratio(r.callsPerSec / base.callsPerSec)}${ratio(base.p50Us / r.p50Us)}${ratio(base.p99Us / r.p99Us)}${ratio(base.serverCpuUsPerCall! / r.serverCpuUsPerCall!)}  ${r.failed}`,
    );
  }
}

async function healthCheck(dir: string, goServer: { pid: number; socketPath: string }): Promise<boolean> {
  const bundle = path.resolve(values.bundle!);
  const sock = path.join(dir, 'agent.sock');
  const agent = await startBundledAgent(bundle, sock, values['cpu-prof']);
  let ok = true;
  try {
    for (const concurrency of [1, 64]) {
      const warmup = Math.min(2000, CALLS);
      const args = ['--method', 'check', '--concurrency', `${concurrency}`];
      const go: GoResult[] = [];
      const ours: GoResult[] = [];
      // Interleaved rounds: load from elsewhere on the machine hits both alike.
      for (let round = 0; round < ROUNDS; round++) {
        go.push(await goClient(goServer.socketPath, goServer.pid, args, CALLS, warmup));
        ours.push(await goClient(sock, agent.pid!, args, CALLS, warmup));
      }
      const [g, o] = [medianOf(go), medianOf(ours)];
      printTable(`grpc.Health/Check, ${concurrency} in flight, Go ttRPC client, ${CALLS} calls per run, median of ${ROUNDS} (ours/Go; latency and CPU Go/ours):`, [
        { label: 'Go ttrpc 1.1 server (baseline)', r: g, base: g },
        { label: `our agent (${path.relative(process.cwd(), bundle)})`, r: o, base: g },
      ], false);
      console.log(`  rounds calls/s Go ${go.map((r) => r.callsPerSec.toFixed(0)).join(', ')}; ours ${ours.map((r) => r.callsPerSec.toFixed(0)).join(', ')}`);
      const rt = o.callsPerSec / g.callsPerSec;
      console.log(`  target (agent >= Go server) at ${concurrency} in flight: ${rt.toFixed(2)}x ${rt >= 1 ? 'met' : 'NOT met'}`);
      ok &&= go.every((r) => !r.failed) && ours.every((r) => !r.failed);
    }
  } finally {
    // SIGINT: node writes the --cpu-prof profile on a normal exit, which the agent's handler makes.
    const exited = new Promise((r) => agent.once('exit', r));
    agent.kill(values['cpu-prof'] ? 'SIGINT' : 'SIGKILL');
    await exited;
  }
  return ok;
}

/** Bytes/s of busybox dd writing 32 KiB blocks into a plain pipe that the Go peer reads in 32 KiB reads. */
function plainPipe(busybox: string, bytes: number): Promise<GoResult> {
  return new Promise((resolve, reject) => {
    const sh = spawn('sh', ['-c', `"${busybox}" dd if=/dev/zero bs=${READ_LEN} 2>/dev/null | "${PEER_BINARY}" pipe-read --bytes ${bytes} --len ${READ_LEN}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    sh.stdout.on('data', (d: Buffer) => (out += d.toString()));
    sh.once('error', reject);
    sh.once('exit', () => {
      try {
        const r = JSON.parse(out) as { bytes: number; seconds: number; bytesPerSec: number; reads: number };
        const callsPerSec = r.reads / r.seconds;
        resolve({ calls: r.reads, concurrency: 1, callsPerSec, p50Us: 0, p99Us: 0, failed: 0, bytes: r.bytes, bytesPerSec: r.bytesPerSec, serverCpuUsPerCall: 0 });
      } catch {
        reject(new Error(`pipe-read printed no JSON: ${out.slice(0, 300)}`));
      }
    });
  });
}

// NODE_OPTIONS takes no --cpu-prof: the container agent profiles itself through the inspector,
// from a preloaded script that writes the profile when the process exits.
function profilePreload(dir: string): string {
  const file = path.join(dir, 'cpu-profile-preload.cjs');
  writeFileSync(
    file,
    `const inspector = require('node:inspector');
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => session.post('Profiler.stop', (err, r) => {
  if (!err) require('node:fs').writeFileSync(${JSON.stringify(dir)} + '/container-agent.' + process.pid + '.cpuprofile', JSON.stringify(r.profile));
}));
`,
  );
  return file;
}

async function readStdout(goServer: { pid: number; socketPath: string }): Promise<boolean> {
  // The test helpers find their files through __dirname (CommonJS under vitest); this bundle is ESM.
  (globalThis as { __dirname?: string }).__dirname = path.resolve('test/helpers');
  const { startContainerAgent } = await import('../test/helpers/container-agent');
  const { containerSpec, processSpec, sandboxRequest } = await import('../test/helpers/container-spec');
  const { BUSYBOX } = await import('../test/helpers/container-rootfs');
  const prof = values['cpu-prof'];
  const agent = await startContainerAgent(prof ? { env: { NODE_OPTIONS: `--require ${profilePreload(path.resolve(prof))}` } } : {});
  const call = (method: string, req: Record<string, unknown>) => agent.client.request(method, req);
  const sock = agent.address.slice('unix://'.length);
  let ok = true;
  try {
    await call('CreateSandbox', sandboxRequest());
    const cid = 'bench-read';
    agent.addRootfs(cid);
    await call('CreateContainer', { container_id: cid, exec_id: cid, OCI: containerSpec(cid, ['sleep', '1000000']) });
    await call('StartContainer', { container_id: cid });
    // One endless writer of 32 KiB blocks: every ReadStdout finds its pipe full.
    const execId = 'dd';
    await call('ExecProcess', { container_id: cid, exec_id: execId, process: processSpec(['dd', 'if=/dev/zero', `bs=${READ_LEN}`]) });
    const args = ['--method', 'read-stdout', '--container', cid, '--exec', execId, '--len', `${READ_LEN}`, '--concurrency', '1'];
    const warmup = Math.min(500, READ_CALLS);
    const go: GoResult[] = [];
    const ours: GoResult[] = [];
    const pipe: GoResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      go.push(await goClient(goServer.socketPath, goServer.pid, args, READ_CALLS, warmup));
      ours.push(await goClient(sock, agent.pid, args, READ_CALLS, warmup));
      pipe.push(await plainPipe(BUSYBOX, READ_CALLS * READ_LEN));
    }
    const [g, o, p] = [medianOf(go), medianOf(ours), medianOf(pipe)];
    printTable(`grpc.AgentService/ReadStdout of ${READ_LEN} bytes, 1 in flight, Go ttRPC client, ${READ_CALLS} calls per run, median of ${ROUNDS}:`, [
      { label: 'Go ttrpc 1.1 server, 32 KiB always ready', r: g, base: g },
      { label: 'our agent, crun container exec of dd', r: o, base: g },
    ], true);
    console.log(`  our agent: ${(o.bytes / o.calls).toFixed(0)} bytes per ReadStdout on average (what the pipe held)`);
    console.log(`  plain pipe (busybox dd bs=32k | read(32 KiB)): ${(p.bytesPerSec / 1048576).toFixed(0)} MB/s, ${p.callsPerSec.toFixed(0)} reads/s, ${(p.bytes / p.calls).toFixed(0)} bytes per read`);
    console.log(`  ReadStdout bytes/s ours/Go server ${(o.bytesPerSec / g.bytesPerSec).toFixed(2)}x; ours/plain pipe ${(o.bytesPerSec / p.bytesPerSec).toFixed(2)}x`);
    ok = go.every((r) => !r.failed) && ours.every((r) => !r.failed);
    await call('SignalProcess', { container_id: cid, exec_id: execId, signal: 9 });
    await call('WaitProcess', { container_id: cid, exec_id: execId });
    await call('RemoveContainer', { container_id: cid, timeout: 10 });
    await call('DestroySandbox', {});
  } finally {
    await agent.stop();
  }
  return ok;
}

async function main(): Promise<void> {
  const unavailable = goPeerUnavailableReason();
  if (unavailable) throw new Error(`cannot run the Go ttRPC baseline: ${unavailable}`);
  await buildGoPeer();
  const dir = mkdtempSync(path.join(tmpdir(), 'agent-go-bench-'));
  const goServer = await startGoServer(path.join(dir, 'go.sock'), 'agent-server');
  let ok = true;
  try {
    ok = (await healthCheck(dir, goServer)) && ok;
    if (!values['skip-read-stdout']) {
      if (process.getuid?.() !== 0) console.log('ReadStdout: skipped (needs root for crun and mount namespaces)');
      else ok = (await readStdout(goServer)) && ok;
    }
  } finally {
    await goServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`machine: ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end of the run`);
  if (!ok) process.exitCode = 1;
}

await main();
