// Memory of the agent under call floods (issue 16): the bundled agent (dist/agent.js) runs as a
// process on a unix socket; its VmRSS is sampled from /proc/PID/status every few milliseconds.
// Each flood runs on a fresh agent:
//   - idle: after "agent ready", one Health/Check and a pause (the baseline of the ratios);
//   - pipelined: N GetMetrics written at once on one connection, the replies read as they come;
//     meanwhile Health/Check on a second connection, timed;
//   - unread: M GetMetrics written on one connection whose replies are never read, until the
//     agent stops taking them, then the connection is closed;
//   - after: RSS once the agent has been idle again as long.
// Prints peak / idle and after / idle for each flood (target: peak <= 64 MB). --node-flags passes
// V8 options to the agent's node (e.g. --node-flags=--max-semi-space-size=1).
//   node bench/run.mjs agent-rss [--pipelined 5000] [--unread 10000] [--bundle dist/agent.js] [--settle-ms 5000]
// Needs a built dist/ (npm run build).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_SERVICE, HEALTH_SERVICE } from '../agent/src/proto/schema';
import { encodeFrame, type Frame, FrameDecoder, FrameType } from '../agent/src/ttrpc/frame';
import { decodeResponse, encodeRequest } from '../agent/src/ttrpc/messages';
import { codeName } from '../agent/src/ttrpc/status';
import { startAgentUntilReady } from './agent-process';

const { values } = parseArgs({
  options: {
    pipelined: { type: 'string', default: '5000' },
    unread: { type: 'string', default: '10000' },
    bundle: { type: 'string', default: 'dist/agent.js' },
    'node-flags': { type: 'string', default: '' },
    'settle-ms': { type: 'string', default: '5000' },
  },
});
const PIPELINED = Number(values.pipelined);
const UNREAD = Number(values.unread);
const SETTLE_MS = Number(values['settle-ms']);
const TARGET_MB = 64;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mb = (kb: number) => (kb / 1024).toFixed(1);

function statusKb(pid: number, field: 'VmRSS' | 'RssAnon'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}
const rssKb = (pid: number) => statusKb(pid, 'VmRSS');

/** Samples VmRSS until stopped; `peak` is the highest seen. */
function sampleRss(pid: number): { stop(): number; readonly peak: number } {
  let peak = rssKb(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 5);
  return {
    get peak() {
      return peak;
    },
    stop() {
      clearInterval(timer);
      return (peak = Math.max(peak, rssKb(pid)));
    },
  };
}

function startAgent(bundle: string, sock: string): Promise<ChildProcess> {
  const nodeFlags = values['node-flags']!.split(' ').filter(Boolean);
  return startAgentUntilReady([...nodeFlags, bundle], sock, ['--no-grpc']);
}

/** A raw ttRPC connection: requests written as frames, responses counted by status code. */
class RawClient {
  answered = 0;
  readonly codes = new Map<string, number>();
  private waiters: Array<() => void> = [];
  private nextId = 1;
  private constructor(readonly socket: net.Socket) {
    const decoder = new FrameDecoder({ frame: (f) => this.onFrame(f), oversize: () => undefined }, 64 << 20);
    socket.on('data', (c: Buffer) => decoder.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => this.wake());
  }

  static open(sock: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ path: sock }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** n requests of one method written at once (a pipelining client); returns their bytes. */
  send(service: string, method: string, n: number): number {
    const frames: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      frames.push(encodeFrame(this.nextId, FrameType.Request, 0, encodeRequest({ service, method, payload: new Uint8Array() })));
      this.nextId += 2;
    }
    // In writes of 100 frames: writableLength then tells how far the peer has read.
    let bytes = 0;
    for (let i = 0; i < frames.length; i += 100) {
      const chunk = Buffer.concat(frames.slice(i, i + 100));
      this.socket.write(chunk);
      bytes += chunk.length;
    }
    return bytes;
  }

  async waitAnswers(n: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.answered < n && !this.socket.destroyed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
    return this.answered >= n;
  }

  private onFrame(f: Frame): void {
    if (f.type !== FrameType.Response) return;
    this.answered++;
    const code = codeName(decodeResponse(f.payload).status?.code ?? 0);
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

const codesText = (c: RawClient) => [...c.codes].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

async function healthMs(sock: string): Promise<number> {
  const c = await RawClient.open(sock);
  const t0 = performance.now();
  c.send(HEALTH_SERVICE, 'Check', 1);
  const ok = await c.waitAnswers(1, 60_000);
  const ms = performance.now() - t0;
  c.socket.destroy();
  return ok ? ms : Number.POSITIVE_INFINITY;
}

interface FloodResult {
  idle: number;
  peak: number;
  after: number;
  notes: string;
}

/** A fresh agent: idle RSS, the flood's peak, and RSS once idle again. */
async function measure(bundle: string, flood: (sock: string) => Promise<string>): Promise<FloodResult> {
  const work = mkdtempSync(join(tmpdir(), 'agent-rss-'));
  const sock = join(work, 'agent.sock');
  const agent = await startAgent(bundle, sock);
  const pid = agent.pid!;
  try {
    await healthMs(sock);
    await sleep(SETTLE_MS);
    const idle = rssKb(pid);
    const anonIdle = statusKb(pid, 'RssAnon');
    const rss = sampleRss(pid);
    const notes = await flood(sock);
    const peak = rss.stop();
    await sleep(SETTLE_MS);
    const after = rssKb(pid);
    const anonAfter = statusKb(pid, 'RssAnon');
    const healthAfter = await healthMs(sock);
    return { idle, peak, after, notes: `${notes}; Health once idle again ${healthAfter.toFixed(1)} ms; RssAnon idle ${mb(anonIdle)} MB, after ${mb(anonAfter)} MB` };
  } finally {
    agent.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

/** PIPELINED GetMetrics in one write, answers read as they come; Health on a second connection meanwhile. */
async function pipelinedFlood(sock: string): Promise<string> {
  const flood = await RawClient.open(sock);
  const t0 = performance.now();
  flood.send(AGENT_SERVICE, 'GetMetrics', PIPELINED);
  const healthDuring = await healthMs(sock);
  const all = await flood.waitAnswers(PIPELINED, 120_000);
  const secs = (performance.now() - t0) / 1000;
  flood.socket.destroy();
  return `${flood.answered}/${PIPELINED} answered in ${secs.toFixed(1)} s${all ? '' : ' (gave up)'} (${codesText(flood)}); Health on another connection meanwhile ${healthDuring.toFixed(1)} ms`;
}

/** UNREAD GetMetrics whose answers are never read, until the agent takes no more; then closed. */
async function unreadFlood(sock: string): Promise<string> {
  const deaf = await RawClient.open(sock);
  deaf.socket.pause();
  const written = deaf.send(AGENT_SERVICE, 'GetMetrics', UNREAD);
  let unsent = deaf.socket.writableLength;
  let stableSince = performance.now();
  const start = performance.now();
  while (performance.now() - stableSince < 2000 && performance.now() - start < 30_000) {
    await sleep(100);
    if (deaf.socket.writableLength !== unsent) {
      unsent = deaf.socket.writableLength;
      stableSince = performance.now();
    }
  }
  const healthDuring = await healthMs(sock);
  deaf.socket.destroy();
  await sleep(500);
  return `${((written - unsent) / 1024).toFixed(0)} of ${(written / 1024).toFixed(0)} KiB of requests left our socket before the agent stopped reading; Health on another connection meanwhile ${healthDuring.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const bundle = resolve(values.bundle!);
  console.log(`agent ${bundle}${values['node-flags'] ? ` (node ${values['node-flags']})` : ''}; a fresh agent per flood; VmRSS sampled every 5 ms; idle = ${SETTLE_MS} ms without calls`);
  const floods: Array<[string, (sock: string) => Promise<string>]> = [
    [`${PIPELINED} pipelined GetMetrics, answers read`, pipelinedFlood],
    [`${UNREAD} GetMetrics never read, then closed`, unreadFlood],
  ];
  let worst = 0;
  for (const [name, flood] of floods) {
    const r = await measure(bundle, flood);
    worst = Math.max(worst, r.peak);
    console.log(`${name}: idle ${mb(r.idle)} MB, peak ${mb(r.peak)} MB = ${(r.peak / r.idle).toFixed(2)}x idle, after ${mb(r.after)} MB = ${(r.after / r.idle).toFixed(2)}x`);
    console.log(`  ${r.notes}`);
  }
  console.log(`highest peak ${mb(worst)} MB: ${worst / 1024 <= TARGET_MB ? 'within' : 'over'} the ${TARGET_MB} MB target`);
}

await main();
