// Benchmark: our ttRPC against containerd's Go ttRPC (Debian's 1.1), measured in the same run.
// Unary Echo of a small payload over one unix-socket connection, at 1 and 64 calls in flight.
// Combos: Go client -> Go server (the baseline), Go client -> our server, our client -> our
// server, our client -> Go server. Each server runs in its own process.
//
// Run: node bench/ttrpc-run.mjs [--rounds 3] [--calls 20000] [--payload 32]
// (ttrpc-run.mjs bundles this file with esbuild; no TypeScript loader is needed.)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TtrpcClient, TtrpcServer } from '../agent/src/ttrpc';
import { decodeBlob, encodeEchoRequest, INTEROP_SERVICE, pattern, registerInteropService } from '../test/go/interop-service';
import { buildGoPeer, goPeerUnavailableReason, runGoPeer, startGoServer } from '../test/go/peer';
import { processCpuUs } from './process-cpu';

interface BenchResult {
  calls: number;
  concurrency: number;
  callsPerSec: number;
  p50Us: number;
  p99Us: number;
  failed: number;
  /** CPU time (user + system, all threads) the server process spent per call. */
  serverCpuUsPerCall?: number;
}

type Side = 'Go' | 'ours';
interface Combo {
  client: Side;
  server: Side;
}

const COMBOS: Combo[] = [
  { client: 'Go', server: 'Go' },
  { client: 'Go', server: 'ours' },
  { client: 'ours', server: 'ours' },
  { client: 'ours', server: 'Go' },
];

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const percentile = (sorted: Float64Array, p: number) => (sorted.length ? sorted[Math.floor(p * (sorted.length - 1))]! : 0);

// Our client: `concurrency` loops share one connection and a call counter.
async function runOurClient(socketPath: string, calls: number, concurrency: number, warmup: number, payloadBytes: number): Promise<BenchResult> {
  const client = await TtrpcClient.connect(`unix://${socketPath}`);
  const request = encodeEchoRequest(pattern(payloadBytes));
  const run = async (n: number, latenciesMs?: Float64Array) => {
    let next = 0;
    let failed = 0;
    const worker = async () => {
      for (let i = next++; i < n; i = next++) {
        const start = performance.now();
        try {
          if (decodeBlob(await client.call(INTEROP_SERVICE, 'Echo', request)).length !== payloadBytes) failed++;
        } catch {
          failed++;
        }
        if (latenciesMs) latenciesMs[i] = performance.now() - start;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return failed;
  };
  try {
    await run(warmup);
    const latencies = new Float64Array(calls);
    const start = performance.now();
    const failed = await run(calls, latencies);
    const seconds = (performance.now() - start) / 1000;
    latencies.sort();
    return {
      calls, concurrency, failed,
      callsPerSec: calls / seconds,
      p50Us: percentile(latencies, 0.5) * 1000,
      p99Us: percentile(latencies, 0.99) * 1000,
    };
  } finally {
    client.close();
  }
}

// Our server in a child process (this same bundle, `serve-ours` mode), like the Go server.
async function serveOurs(socketPath: string): Promise<void> {
  const server = new TtrpcServer();
  registerInteropService(server);
  await server.listen(`unix://${socketPath}`);
  process.stdout.write('READY\n');
  // Exit with the parent: it holds our stdin.
  process.stdin.resume();
  process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
}

function startOurServer(socketPath: string): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [process.argv[1]!, 'serve-ours', socketPath], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.stdin.end();
    await exited;
  };
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY\n')) resolve({ pid: child.pid!, stop });
    });
    child.once('exit', (code) => reject(new Error(`our ttrpc server on ${socketPath} exited with ${code} before READY`)));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function medianResult(results: BenchResult[]): BenchResult {
  return {
    calls: results[0]!.calls,
    concurrency: results[0]!.concurrency,
    failed: results.reduce((n, r) => n + r.failed, 0),
    serverCpuUsPerCall: median(results.map((r) => r.serverCpuUsPerCall ?? 0)),
    callsPerSec: median(results.map((r) => r.callsPerSec)),
    p50Us: median(results.map((r) => r.p50Us)),
    p99Us: median(results.map((r) => r.p99Us)),
  };
}

const pad = (s: string, n: number) => s.padEnd(n);
const num = (x: number, digits = 0) => x.toFixed(digits).padStart(9);
const ratio = (x: number) => `${x.toFixed(2)}x`.padStart(8);

async function main(): Promise<void> {
  const rounds = flag('rounds', 3);
  const calls = flag('calls', 20000);
  const payloadBytes = flag('payload', 32);
  const warmup = Math.min(2000, calls);
  const unavailable = goPeerUnavailableReason();
  if (unavailable) throw new Error(`cannot run the Go ttRPC baseline: ${unavailable}`);
  await buildGoPeer();

  const dir = mkdtempSync(join(tmpdir(), 'ttrpc-bench-'));
  const goServer = await startGoServer(join(dir, 'go.sock'), 'bench-server');
  const ourServer = await startOurServer(join(dir, 'ours.sock'));
  const socketOf = (side: Side) => join(dir, side === 'Go' ? 'go.sock' : 'ours.sock');
  const serverPid = (side: Side) => (side === 'Go' ? goServer.pid : ourServer.pid);
  const table: Array<{ combo: Combo; result: BenchResult }> = [];
  try {
    for (const concurrency of [1, 64]) {
      const perCombo = COMBOS.map(() => [] as BenchResult[]);
      // Rounds interleave the combos so that load from elsewhere on the machine hits all alike.
      for (let round = 0; round < rounds; round++) {
        for (const [i, combo] of COMBOS.entries()) {
          const socket = socketOf(combo.server);
          const cpuBefore = processCpuUs(serverPid(combo.server));
          const result =
            combo.client === 'Go'
              ? await runGoPeer<BenchResult>(
                  ['bench-client', '--socket', socket, '--calls', `${calls}`, '--concurrency', `${concurrency}`,
                    '--warmup', `${warmup}`, '--payload', `${payloadBytes}`], 300_000)
              : await runOurClient(socket, calls, concurrency, warmup, payloadBytes);
          // Warmup calls are included in the CPU time, so divide by all calls made.
          result.serverCpuUsPerCall = (processCpuUs(serverPid(combo.server)) - cpuBefore) / (calls + warmup);
          perCombo[i]!.push(result);
        }
      }
      COMBOS.forEach((combo, i) => table.push({ combo, result: medianResult(perCombo[i]!) }));
    }
  } finally {
    await Promise.all([goServer.stop(), ourServer.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(`ttRPC unary Echo, ${payloadBytes}-byte payload, one unix-socket connection, ${calls} calls per run, median of ${rounds} rounds`);
  console.log(`machine: load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end of the run`);
  console.log('ratios against Go client -> Go server in this run: calls/s ours/Go, latency and server CPU Go/ours (>= 1.00x: at least as good as Go)');
  console.log(
    `${pad('in flight', 10)}${pad('client -> server', 18)}${'calls/s'.padStart(9)}${'p50 µs'.padStart(9)}${'p99 µs'.padStart(9)}${'srv CPU'.padStart(9)}` +
      `${'calls/s'.padStart(8)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'srv CPU'.padStart(8)}  failed`,
  );
  console.log(`${pad('', 28)}${''.padStart(27)}${'µs/call'.padStart(9)}${'ratio'.padStart(8)}${'ratio'.padStart(8)}${'ratio'.padStart(8)}${'ratio'.padStart(8)}`);
  for (const { combo, result } of table) {
    const base = table.find((t) => t.result.concurrency === result.concurrency && t.combo.client === 'Go' && t.combo.server === 'Go')!.result;
    console.log(
      `${pad(String(result.concurrency), 10)}${pad(`${combo.client} -> ${combo.server}`, 18)}${num(result.callsPerSec)}${num(result.p50Us, 1)}${num(result.p99Us, 1)}` +
        `${num(result.serverCpuUsPerCall!, 1)}${ratio(result.callsPerSec / base.callsPerSec)}${ratio(base.p50Us / result.p50Us)}${ratio(base.p99Us / result.p99Us)}` +
        `${ratio(base.serverCpuUsPerCall! / result.serverCpuUsPerCall!)}  ${result.failed}`,
    );
  }
  for (const concurrency of [1, 64]) {
    const at = (client: Side, server: Side) => table.find((t) => t.result.concurrency === concurrency && t.combo.client === client && t.combo.server === server)!.result;
    const [ours, go] = [at('Go', 'ours'), at('Go', 'Go')];
    const serverRatio = ours.callsPerSec / go.callsPerSec;
    console.log(
      `target (our server >= Go server, same Go client) at ${concurrency} in flight: calls/s ${serverRatio.toFixed(2)}x ${serverRatio >= 1 ? 'met' : 'NOT met'}` +
        `; server CPU per call Go/ours ${(go.serverCpuUsPerCall! / ours.serverCpuUsPerCall!).toFixed(2)}x`,
    );
  }
  if (table.some((t) => t.result.failed > 0)) process.exitCode = 1;
}

if (process.argv[2] === 'serve-ours') {
  await serveOurs(process.argv[3]!);
} else {
  await main();
}
