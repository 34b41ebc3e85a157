// Load the agent must take without leaking: many execs at once, many short execs in a row
// (no zombies, no fds left open), 100 MB of stdout read back byte for byte, a container whose
// output is unread does not hold up anyone else.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContainerAgent, startContainerAgent } from '../helpers/container-agent';
import { containerSpec, processSpec, sandboxRequest } from '../helpers/container-spec';

let agent: ContainerAgent;
const CID = 'stress';
const SHORT_EXECS = Number(process.env.CONTAINER_STRESS_EXECS ?? 1000);

const call = <T extends Record<string, unknown> = Record<string, unknown>>(method: string, req: Record<string, unknown>) =>
  agent.client.request<T>(method, req);

async function readAll(cid: string, execId: string, len = 1024 * 1024): Promise<Buffer[]> {
  const parts: Buffer[] = [];
  for (;;) {
    const data = await agent.client.readOutput(cid, execId, 'stdout', len);
    if (data === null) return parts;
    parts.push(data);
  }
}

async function runExec(execId: string, args: string[]): Promise<{ out: string; status: number }> {
  await call('ExecProcess', { container_id: CID, exec_id: execId, process: processSpec(args) });
  const [parts, { status }] = await Promise.all([readAll(CID, execId), call<{ status: number }>('WaitProcess', { container_id: CID, exec_id: execId })]);
  // stderr is read to the end too, so the exec is forgotten
  await agent.client.readAllOutput(CID, execId, 'stderr');
  return { out: Buffer.concat(parts).toString(), status };
}

beforeAll(async () => {
  agent = await startContainerAgent();
  await call('CreateSandbox', sandboxRequest());
  agent.addRootfs(CID);
  await call('CreateContainer', { container_id: CID, exec_id: CID, OCI: containerSpec(CID, ['sleep', '1000000']) });
  await call('StartContainer', { container_id: CID });
});

afterAll(async () => {
  await agent?.stop();
});

describe('container stress', () => {
  it('200 concurrent execs, each with its own output and exit code', async () => {
    const n = 200;
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: n }, (_, i) => runExec(`par-${i}`, ['sh', '-c', `echo exec-${i}; exit ${i % 50}`])));
    const ms = performance.now() - started;
    for (const [i, r] of results.entries()) {
      expect(r.out).toBe(`exec-${i}\n`);
      expect(r.status).toBe(i % 50);
    }
    console.log(`200 concurrent execs: ${ms.toFixed(0)} ms`);
  }, 180_000);

  it(`${SHORT_EXECS} short execs: no zombie, no fd leak`, async () => {
    // warm up, then measure from a settled state
    await runExec('warm', ['true']);
    const fdsBefore = agent.openFds();
    const started = performance.now();
    for (let i = 0; i < SHORT_EXECS; i++) {
      const r = await runExec(`short-${i}`, ['true']);
      expect(r.status).toBe(0);
    }
    const ms = performance.now() - started;
    const fdsAfter = agent.openFds();
    console.log(`${SHORT_EXECS} sequential execs: ${ms.toFixed(0)} ms (${(ms / SHORT_EXECS).toFixed(1)} ms each); agent fds ${fdsBefore} -> ${fdsAfter}`);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + 2);
    expect(agent.zombies()).toBe(0);
    // the container init, the pod's namespace holder: nothing else is a child of the agent
    expect(agent.children().length).toBe(2);
  }, 600_000);

  it('100 MB of stdout read back byte-exact, with an unread exec not holding anything up', async () => {
    // an exec whose output nobody reads: it fills its pipe and blocks, the agent does not
    await call('ExecProcess', { container_id: CID, exec_id: 'unread', process: processSpec(['sh', '-c', 'yes unread-output']) });
    const size = 100 * 1024 * 1024;
    const expected = createHash('sha256');
    // deterministic content: the same block of "seq" output repeated
    await call('ExecProcess', { container_id: CID, exec_id: 'big', process: processSpec(['sh', '-c', `seq 1 1000000 > /tmp/block; yes "$(head -c 1000 /tmp/block)" | head -c ${size}`]) });
    const started = performance.now();
    const got = createHash('sha256');
    let total = 0;
    let tail: Buffer = Buffer.alloc(0);
    for (const part of await readAll(CID, 'big')) {
      got.update(part);
      total += part.length;
      tail = part;
    }
    const ms = performance.now() - started;
    // what `yes "$(head -c 1000 /tmp/block)"` repeats ($(...) strips trailing newlines)
    const line = Buffer.from(Array.from({ length: 1000 }, (_, i) => String(i + 1)).join('\n').slice(0, 1000).replace(/\n+$/, '') + '\n');
    let written = 0;
    while (written < size) {
      const piece = line.subarray(0, Math.min(line.length, size - written));
      expected.update(piece);
      written += piece.length;
    }
    expect(total).toBe(size);
    expect(got.digest('hex')).toBe(expected.digest('hex'));
    expect(tail.length).toBeGreaterThan(0);
    expect((await call<{ status: number }>('WaitProcess', { container_id: CID, exec_id: 'big' })).status).toBe(0);
    console.log(`100 MB stdout through ReadStdout: ${ms.toFixed(0)} ms (${(size / 1048576 / (ms / 1000)).toFixed(0)} MB/s)`);
    // the unread one is still alive and blocked, and a kill still works
    await call('SignalProcess', { container_id: CID, exec_id: 'unread', signal: 9 });
    expect((await call<{ status: number }>('WaitProcess', { container_id: CID, exec_id: 'unread' })).status).toBe(137);
    // the agent's memory did not take the unread output
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'))![1]) * 1024;
    expect(rss).toBeLessThan(300 * 1024 * 1024);
  }, 300_000);
});
