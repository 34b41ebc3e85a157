// The call sequence a Kata runtime sends for a pod, against the real agent and real crun:
// sandbox, container create/start, execs with and without a terminal, stdin, signals, exit
// codes, wait after exit, stats, remove, destroy; nothing left mounted or running.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../agent/src/ttrpc/status';
import { type ContainerAgent, mountsUnder, startContainerAgent } from '../helpers/container-agent';
import { containerSpec, processSpec, sandboxRequest } from '../helpers/container-spec';

let agent: ContainerAgent;

beforeAll(async () => {
  agent = await startContainerAgent();
});
afterAll(async () => {
  await agent?.stop();
});

const call = <T extends Record<string, unknown> = Record<string, unknown>>(method: string, req: Record<string, unknown>) =>
  agent.client.request<T>(method, req);

/** Everything on stdout or stderr until its end. */
const readAll = (cid: string, execId: string, which: 'stdout' | 'stderr' = 'stdout', len = 65536): Promise<Buffer> =>
  agent.client.readAllOutput(cid, execId, which, len);

async function readUntil(cid: string, execId: string, pattern: RegExp): Promise<string> {
  let text = '';
  while (!pattern.test(text)) {
    const data = await agent.client.readOutput(cid, execId, 'stdout', 4096);
    if (data === null) throw new Error(`EOF before ${pattern}: ${JSON.stringify(text)}`);
    text += data.toString();
  }
  return text;
}

const status = async (cid: string, execId: string) => (await call<{ status: number }>('WaitProcess', { container_id: cid, exec_id: execId })).status;

describe('container lifecycle through the agent and crun', () => {
  const cid = 'web-1';

  it('creates the sandbox: shared dir and shm mounted, hostname in the pod uts namespace', async () => {
    await call('CreateSandbox', sandboxRequest({ hostname: 'pod-test' }));
    const mounts = mountsUnder(agent.pid, '/run/kata-containers');
    expect(mounts).toContain('/run/kata-containers/shared/containers');
    expect(mounts).toContain('/run/kata-containers/sandbox/shm');
    await expect(call('CreateSandbox', sandboxRequest())).rejects.toMatchObject({ code: Code.ALREADY_EXISTS });
  });

  it('creates and starts a container; its output and exit code come back', async () => {
    agent.addRootfs(cid);
    await call('CreateContainer', {
      container_id: cid,
      exec_id: cid,
      OCI: containerSpec(cid, ['sh', '-c', 'echo "hello from $(hostname)"; cat /etc/resolv.conf; echo to-stderr >&2; read line; echo "got $line"; sleep 1000000']),
    });
    await call('StartContainer', { container_id: cid });
    expect(await readUntil(cid, '', /nameserver 10\.96\.0\.10/)).toMatch(/^hello from pod-test\n/);
    const err = await call<{ data: Buffer }>('ReadStderr', { container_id: cid, exec_id: cid, len: 100 });
    expect(err.data.toString()).toBe('to-stderr\n');
    const w = await call<{ len: number }>('WriteStdin', { container_id: cid, exec_id: cid, data: Buffer.from('ping\n') });
    expect(w.len).toBe(5);
    expect(await readUntil(cid, cid, /got ping\n/)).toContain('got ping');
  });

  it('runs execs: output, stderr, exit codes, stdin round trip and close', async () => {
    await call('ExecProcess', { container_id: cid, exec_id: 'e1', process: processSpec(['sh', '-c', 'echo out; echo err >&2; exit 7']) });
    expect((await readAll(cid, 'e1')).toString()).toBe('out\n');
    expect((await readAll(cid, 'e1', 'stderr')).toString()).toBe('err\n');
    expect(await status(cid, 'e1')).toBe(7);

    await call('ExecProcess', { container_id: cid, exec_id: 'cat', process: processSpec(['cat']) });
    await call('WriteStdin', { container_id: cid, exec_id: 'cat', data: Buffer.from('round trip\n') });
    expect(await readUntil(cid, 'cat', /round trip\n/)).toBe('round trip\n');
    await call('CloseStdin', { container_id: cid, exec_id: 'cat' });
    expect((await readAll(cid, 'cat')).toString()).toBe('');
    expect(await status(cid, 'cat')).toBe(0);

    // WriteStdin with no bytes closes stdin too.
    await call('ExecProcess', { container_id: cid, exec_id: 'wc', process: processSpec(['wc', '-c']) });
    await call('WriteStdin', { container_id: cid, exec_id: 'wc', data: Buffer.from('12345') });
    await call('WriteStdin', { container_id: cid, exec_id: 'wc', data: Buffer.alloc(0) });
    expect((await readAll(cid, 'wc')).toString().trim()).toBe('5');
    expect(await status(cid, 'wc')).toBe(0);
  });

  it('keeps output written just before exit, and answers WaitProcess after the exit', async () => {
    await call('ExecProcess', { container_id: cid, exec_id: 'late', process: processSpec(['sh', '-c', 'seq 1 20000; echo last-line']) });
    expect(await status(cid, 'late')).toBe(0); // wait first, read afterwards
    const out = (await readAll(cid, 'late')).toString();
    expect(out.endsWith('19999\n20000\nlast-line\n')).toBe(true);
    expect(out.split('\n')).toHaveLength(20002);
  });

  it('ends output with an OUT_OF_RANGE "EOF" status, never an empty reply, after the last bytes, also for a read pending at the exit', async () => {
    // Kata's runtime-go before 3.27 would copy an empty reply as "0 bytes" and ask again forever;
    // an error status ends the copy in every runtime release.
    await call('ExecProcess', { container_id: cid, exec_id: 'eof', process: processSpec(['sh', '-c', 'echo first; read x; printf "last:%s" "$x"']) });
    expect((await call<{ data: Buffer }>('ReadStdout', { container_id: cid, exec_id: 'eof', len: 100 })).data.toString()).toBe('first\n');
    const pending = call<{ data: Buffer }>('ReadStdout', { container_id: cid, exec_id: 'eof', len: 100 }); // nothing to read yet
    await call('WriteStdin', { container_id: cid, exec_id: 'eof', data: Buffer.from('bye\n') });
    expect((await pending).data.toString()).toBe('last:bye');
    const pendingAtExit = call('ReadStdout', { container_id: cid, exec_id: 'eof', len: 100 });
    const end = { code: Code.OUT_OF_RANGE, message: expect.stringMatching(/^EOF: stdout of process eof in container web-1/) };
    await expect(pendingAtExit).rejects.toMatchObject(end);
    await expect(call('ReadStderr', { container_id: cid, exec_id: 'eof', len: 100 })).rejects.toMatchObject({ code: Code.OUT_OF_RANGE });
    expect(await status(cid, 'eof')).toBe(0);
  });

  it('exec with a terminal: tty, window size, input and output', async () => {
    await call('ExecProcess', { container_id: cid, exec_id: 'tty', process: { ...processSpec(['sh']), Terminal: true, ConsoleSize: { Height: 40, Width: 120 } } });
    await call('TtyWinResize', { container_id: cid, exec_id: 'tty', row: 33, column: 101 });
    // stderr of a terminal process is its terminal: ReadStderr is at its end at once
    await expect(call('ReadStderr', { container_id: cid, exec_id: 'tty', len: 10 })).rejects.toMatchObject({ code: Code.OUT_OF_RANGE });
    await call('WriteStdin', { container_id: cid, exec_id: 'tty', data: Buffer.from('tty -s && echo IS-A-TTY; stty size; exit 3\n') });
    const out = (await readAll(cid, 'tty')).toString();
    expect(out).toContain('IS-A-TTY');
    expect(out).toContain('33 101');
    expect(await status(cid, 'tty')).toBe(3);
    // waited and read to the end: the exec is forgotten
    await expect(call('WaitProcess', { container_id: cid, exec_id: 'tty' })).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  it('signals: 128+N statuses, SIGTERM to an exec, ESRCH is not an error', async () => {
    await call('ExecProcess', { container_id: cid, exec_id: 'sleeper', process: processSpec(['sleep', '1000']) });
    await call('SignalProcess', { container_id: cid, exec_id: 'sleeper', signal: 15 });
    expect(await status(cid, 'sleeper')).toBe(128 + 15);
    await call('ExecProcess', { container_id: cid, exec_id: 'done', process: processSpec(['true']) });
    expect(await status(cid, 'done')).toBe(0);
    // after the exit (and before the exec is forgotten) a signal is fine
    await call('ExecProcess', { container_id: cid, exec_id: 'done2', process: processSpec(['sh', '-c', 'echo x']) });
    await new Promise<void>((resolve) => void call('WaitProcess', { container_id: cid, exec_id: 'done2' }).then(() => resolve()));
    await expect(call('SignalProcess', { container_id: cid, exec_id: 'done2', signal: 9 })).resolves.toBeDefined();
  });

  it('reports stats (network from the guest namespace)', async () => {
    const stats = await call<{ cgroup_stats: Record<string, unknown>; network_stats: Array<{ name: string }> }>('StatsContainer', { container_id: cid });
    expect(stats.cgroup_stats).toBeTruthy();
    expect(stats.network_stats.map((n) => n.name)).toContain('lo');
  });

  it('refuses bad ids, unknown ids and duplicates with clear statuses', async () => {
    await expect(call('StartContainer', { container_id: 'nope' })).rejects.toMatchObject({ code: Code.NOT_FOUND, message: expect.stringContaining('nope') });
    await expect(call('WaitProcess', { container_id: cid, exec_id: 'no-such-exec' })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(call('ReadStdout', { container_id: cid, exec_id: 'no-such-exec', len: 10 })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(call('StartContainer', { container_id: '../etc' })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(call('ExecProcess', { container_id: cid, exec_id: 'a/b', process: processSpec(['true']) })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(call('CreateContainer', { container_id: cid, exec_id: cid, OCI: containerSpec(cid, ['true']) })).rejects.toMatchObject({ code: Code.ALREADY_EXISTS });
    await call('ExecProcess', { container_id: cid, exec_id: 'dup', process: processSpec(['sleep', '1000']) });
    await expect(call('ExecProcess', { container_id: cid, exec_id: 'dup', process: processSpec(['true']) })).rejects.toMatchObject({ code: Code.ALREADY_EXISTS });
    await call('SignalProcess', { container_id: cid, exec_id: 'dup', signal: 9 });
    expect(await status(cid, 'dup')).toBe(137);
    // a program the container does not have: crun's reason, and the exec id is free again
    await expect(call('ExecProcess', { container_id: cid, exec_id: 'missing', process: processSpec(['/no/such/program']) })).rejects.toMatchObject({
      code: Code.INTERNAL,
      message: expect.stringContaining('/no/such/program'),
    });
    await expect(call('WaitProcess', { container_id: cid, exec_id: 'missing' })).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  it('refuses a bad spec and a missing rootfs, leaving nothing behind', async () => {
    await expect(call('CreateContainer', { container_id: 'bad-1', exec_id: 'bad-1', OCI: null })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(call('CreateContainer', { container_id: 'bad-2', exec_id: 'bad-2', OCI: { ...containerSpec('bad-2', []), Process: processSpec([]) } })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(call('CreateContainer', { container_id: 'bad-3', exec_id: 'bad-3', OCI: containerSpec('bad-3', ['true']) })).rejects.toMatchObject({ code: Code.NOT_FOUND, message: expect.stringContaining('rootfs') });
    await expect(call('StartContainer', { container_id: 'bad-3' })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    expect(mountsUnder(agent.pid, '/run/kata-containers/bad')).toEqual([]);
  });

  it('removes the container: processes gone, state gone', async () => {
    const before = agent.children();
    expect(before.length).toBeGreaterThan(0);
    await call('RemoveContainer', { container_id: cid, timeout: 10 });
    await expect(call('WaitProcess', { container_id: cid, exec_id: '' })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    // only the pod's namespace holder remains a child of the agent
    expect(agent.children()).toHaveLength(1);
    expect(readFileSync(`/proc/${agent.children()[0]}/comm`, 'utf8').trim()).toBe('cat');
  });

  it('destroys the sandbox: storages unmounted, holder gone', async () => {
    await call('DestroySandbox', {});
    expect(mountsUnder(agent.pid, '/run/kata-containers/shared')).toEqual([]);
    expect(mountsUnder(agent.pid, '/run/kata-containers/sandbox')).toEqual([]);
    expect(agent.children()).toEqual([]);
    // the power-off hook runs after the reply went out
    await agent.waitForLog('sandbox destroyed: a guest would power off now');
  });
});
