// agent.container_pipe_size: container stdio are real pipes (as Kata's agent makes them) and
// each has the configured capacity. The container names its own fds (pipe:[inode]); the test
// finds the agent's ends of those same pipes and asks the kernel their size (F_GETPIPE_SZ).
import { createHash } from 'node:crypto';
import { closeSync, constants, openSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPipeSize } from '../../agent/src/native/guest-ops';
import { type ContainerAgent, fdTarget, startContainerAgent } from '../helpers/container-agent';
import { containerSpec, processSpec, sandboxRequest } from '../helpers/container-spec';

// Not the kernel's default (64 KiB), and a power of two pages, so the kernel grants it exactly.
const PIPE_SIZE = 256 * 1024;
const CID = 'pipes';

let agent: ContainerAgent;

const call = <T extends Record<string, unknown> = Record<string, unknown>>(method: string, req: Record<string, unknown>) =>
  agent.client.request<T>(method, req);

async function readStdout(execId: string, until: (text: string) => boolean): Promise<string> {
  let text = '';
  while (!until(text)) {
    const data = await agent.client.readOutput(CID, execId, 'stdout', 65536);
    if (data === null) break;
    text += data.toString();
  }
  return text;
}

/** The capacity of the pipe `target` ("pipe:[inode]") as seen through the agent's end of it. */
function agentPipeSize(target: string): number {
  const fd = readdirSync(`/proc/${agent.pid}/fd`).find((n) => fdTarget(agent.pid, n) === target);
  if (fd === undefined) throw new Error(`the agent holds no end of ${target}`);
  // Opening /proc/<pid>/fd/N of a pipe gives another end of the same pipe.
  const own = openSync(`/proc/${agent.pid}/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    return getPipeSize(own);
  } finally {
    closeSync(own);
  }
}

const NAME_FDS = 'for f in 0 1 2; do readlink /proc/self/fd/$f; done';

beforeAll(async () => {
  agent = await startContainerAgent({ containerPipeSize: PIPE_SIZE });
  await call('CreateSandbox', sandboxRequest());
  agent.addRootfs(CID);
  // The init names its stdio, then echoes stdin until it is closed.
  await call('CreateContainer', { container_id: CID, exec_id: CID, OCI: containerSpec(CID, ['sh', '-c', `${NAME_FDS}; exec cat`]) });
  await call('StartContainer', { container_id: CID });
});

afterAll(async () => {
  await agent?.stop();
});

describe('container stdio pipes', () => {
  it('the init gets pipes of agent.container_pipe_size on stdin, stdout and stderr', async () => {
    const names = (await readStdout(CID, (t) => t.split('\n').length > 3)).trim().split('\n');
    expect(names).toHaveLength(3);
    for (const name of names) {
      expect(name).toMatch(/^pipe:\[\d+\]$/);
      expect(agentPipeSize(name)).toBe(PIPE_SIZE);
    }
    expect(new Set(names).size).toBe(3);
    // stdin still round-trips through its pipe, and closing it ends the init
    await call('WriteStdin', { container_id: CID, exec_id: CID, data: Buffer.from('through the pipe\n') });
    expect(await readStdout(CID, (t) => t.includes('through the pipe\n'))).toBe('through the pipe\n');
    await call('CloseStdin', { container_id: CID, exec_id: CID });
    expect((await call<{ status: number }>('WaitProcess', { container_id: CID, exec_id: CID })).status).toBe(0);
  });

  it('an exec gets the same pipes, and 20 MB of its stdout come back byte-exact', async () => {
    await call('RemoveContainer', { container_id: CID, timeout: 0 });
    // same id again: the rootfs in the share outlives the container, as with virtio-fs
    await call('CreateContainer', { container_id: CID, exec_id: CID, OCI: containerSpec(CID, ['sleep', '1000000']) });
    await call('StartContainer', { container_id: CID });
    await call('ExecProcess', { container_id: CID, exec_id: 'names', process: processSpec(['sh', '-c', `${NAME_FDS}; exec sleep 1000000`]) });
    const names = (await readStdout('names', (t) => t.split('\n').length > 3)).trim().split('\n');
    expect(names).toHaveLength(3);
    for (const name of names) expect(agentPipeSize(name)).toBe(PIPE_SIZE);
    await call('SignalProcess', { container_id: CID, exec_id: 'names', signal: 9 });

    const count = 2_600_000; // "1\n" .. "2600000\n": about 20 MB
    await call('ExecProcess', { container_id: CID, exec_id: 'seq', process: processSpec(['seq', '1', String(count)]) });
    const got = createHash('sha256');
    let total = 0;
    for (;;) {
      const data = await agent.client.readOutput(CID, 'seq', 'stdout', 2 * 1024 * 1024);
      if (data === null) break;
      got.update(data);
      total += data.length;
    }
    const expected = createHash('sha256');
    let expectedLength = 0;
    for (let i = 1; i <= count; i += 100_000) {
      const chunk = Array.from({ length: Math.min(100_000, count - i + 1) }, (_, k) => `${i + k}\n`).join('');
      expected.update(chunk);
      expectedLength += chunk.length;
    }
    expect(total).toBe(expectedLength);
    expect(got.digest('hex')).toBe(expected.digest('hex'));
    expect((await call<{ status: number }>('WaitProcess', { container_id: CID, exec_id: 'seq' })).status).toBe(0);
  }, 120_000);
});
