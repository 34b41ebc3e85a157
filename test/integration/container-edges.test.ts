// The less travelled calls: CopyFile and its confinement, signals with Kata's rules (SIGTERM
// to a namespace init, kill-all), the pod pid namespace, RemoveContainer's timeout, a block
// device that never appears, and what pause/resume/update do where crun has no cgroup.
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_SERVICE } from '../../agent/src/proto/schema';
import { Code } from '../../agent/src/ttrpc/status';
import { type ContainerAgent, mountsUnder, startContainerAgent } from '../helpers/container-agent';
import { containerSpec, processSpec, sandboxRequest } from '../helpers/container-spec';
import { KATA_FIXTURES as FIXTURES } from '../fixtures';

const SHARED = '/run/kata-containers/shared/containers';

let agent: ContainerAgent;
const call = <T extends Record<string, unknown> = Record<string, unknown>>(method: string, req: Record<string, unknown>) =>
  agent.client.request<T>(method, req);
const status = async (cid: string, execId: string) => (await call<{ status: number }>('WaitProcess', { container_id: cid, exec_id: execId })).status;

async function output(cid: string, execId: string): Promise<string> {
  return (await agent.client.readAllOutput(cid, execId)).toString();
}

async function run(cid: string, execId: string, script: string): Promise<string> {
  await call('ExecProcess', { container_id: cid, exec_id: execId, process: processSpec(['sh', '-c', script]) });
  const out = await output(cid, execId);
  await status(cid, execId);
  return out;
}

async function startContainer(cid: string, args: string[], extra: Record<string, unknown> = {}): Promise<void> {
  agent.addRootfs(cid);
  await call('CreateContainer', { container_id: cid, exec_id: cid, OCI: containerSpec(cid, args), ...extra });
  await call('StartContainer', { container_id: cid });
}

beforeAll(async () => {
  agent = await startContainerAgent();
  await call('CreateSandbox', sandboxRequest({ pidns: false }));
});
afterAll(async () => {
  await agent?.stop();
});

describe('CopyFile', () => {
  const copy = (req: Record<string, unknown>) =>
    call('CopyFile', { file_size: 0, file_mode: 0o100644, dir_mode: 0o755, uid: -1, gid: -1, offset: 0, data: Buffer.alloc(0), ...req });

  it('writes a file in chunks (temp + rename), directories and symlinks by mode', async () => {
    const target = `${SHARED}/copied/sub/file.txt`;
    await copy({ path: target, file_size: 10, offset: 0, data: Buffer.from('hello') });
    // not in place until the last chunk arrived
    expect(() => lstatSync(path.join(agent.sharedDir, 'copied/sub/file.txt'))).toThrow();
    await copy({ path: target, file_size: 10, offset: 5, data: Buffer.from('world'), file_mode: 0o100600 });
    const host = path.join(agent.sharedDir, 'copied/sub/file.txt');
    expect(readFileSync(host, 'utf8')).toBe('helloworld');
    expect(lstatSync(host).mode & 0o7777).toBe(0o600);
    await copy({ path: `${SHARED}/copied/dir`, file_mode: 0o040750 });
    expect(lstatSync(path.join(agent.sharedDir, 'copied/dir')).isDirectory()).toBe(true);
    await copy({ path: `${SHARED}/copied/link`, file_mode: 0o120777, data: Buffer.from('sub/file.txt') });
    expect(readlinkSync(path.join(agent.sharedDir, 'copied/link'))).toBe('sub/file.txt');
  });

  it('refuses anything outside the shared directory', async () => {
    for (const p of ['/etc/evil', `${SHARED}/../escape`, `${SHARED}/a/../../escape`, 'relative/path', SHARED]) {
      await expect(copy({ path: p, file_size: 1, data: Buffer.from('x') })).rejects.toMatchObject({
        code: Code.PERMISSION_DENIED,
        message: expect.stringContaining('only paths under /run/kata-containers/shared/containers/'),
      });
    }
    // a symlink on the way out is refused too
    await copy({ path: `${SHARED}/out`, file_mode: 0o120777, data: Buffer.from('/etc') });
    await expect(copy({ path: `${SHARED}/out/passwd`, file_size: 1, data: Buffer.from('x') })).rejects.toMatchObject({ code: Code.PERMISSION_DENIED, message: expect.stringContaining('symlink') });
  });
});

describe('signals', () => {
  it('SIGTERM to an init that ignores it (PID 1 of its namespace) becomes SIGKILL', async () => {
    await startContainer('term', ['sleep', '1000000']);
    await call('SignalProcess', { container_id: 'term', exec_id: '', signal: 15 });
    expect(await status('term', '')).toBe(137);
    await call('RemoveContainer', { container_id: 'term', timeout: 5 });
  });

  it('a signal number that is not a signal is INVALID_ARGUMENT naming it, and the process lives on', async () => {
    await startContainer('badsig', ['sleep', '1000000']);
    for (const signal of [0, 65, 4294967295]) {
      await expect(call('SignalProcess', { container_id: 'badsig', exec_id: '', signal })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining(`${signal} is not a signal number`) });
    }
    await call('SignalProcess', { container_id: 'badsig', exec_id: '', signal: 9 });
    expect(await status('badsig', '')).toBe(137);
    await call('RemoveContainer', { container_id: 'badsig', timeout: 5 });
  });

  it('an init that handles SIGTERM gets SIGTERM', async () => {
    await startContainer('trap', ['sh', '-c', 'trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 1; done']);
    expect((await call<{ data: Buffer }>('ReadStdout', { container_id: 'trap', exec_id: '', len: 100 })).data.toString()).toBe('ready\n');
    await call('SignalProcess', { container_id: 'trap', exec_id: 'trap', signal: 15 });
    expect(await status('trap', 'trap')).toBe(42);
    expect(await output('trap', '')).toBe('got-term\n');
    await call('RemoveContainer', { container_id: 'trap', timeout: 5 });
  });

  it('SIGKILL with an empty exec id kills every process of the container', async () => {
    await startContainer('all', ['sleep', '1000000']);
    await call('ExecProcess', { container_id: 'all', exec_id: 'x1', process: processSpec(['sleep', '1000000']) });
    await call('SignalProcess', { container_id: 'all', exec_id: '', signal: 9 });
    expect(await status('all', '')).toBe(137);
    expect(await status('all', 'x1')).toBe(137);
    // a signal to what already exited is not an error
    await call('SignalProcess', { container_id: 'all', exec_id: '', signal: 9 });
    await call('RemoveContainer', { container_id: 'all', timeout: 5 });
  });
});

describe('output at exit', () => {
  it('a container that dies while its output is being read loses nothing', async () => {
    await startContainer('dying', ['sh', '-c', 'seq 1 300000; echo the-end; exit 3']);
    const [text, code] = await Promise.all([output('dying', ''), status('dying', '')]);
    expect(code).toBe(3);
    const lines = text.split('\n');
    expect(lines).toHaveLength(300002);
    expect(lines[299999]).toBe('300000');
    expect(lines[300000]).toBe('the-end');
    await call('RemoveContainer', { container_id: 'dying', timeout: 5 });
  });
});

describe('terminals', () => {
  it('a container whose init has a terminal: output through the pty, input, resize, exit status', async () => {
    agent.addRootfs('tty-init');
    const spec = containerSpec('tty-init', ['sh']);
    (spec.Process as Record<string, unknown>).Terminal = true;
    (spec.Process as Record<string, unknown>).ConsoleSize = { Height: 24, Width: 80 };
    await call('CreateContainer', { container_id: 'tty-init', exec_id: 'tty-init', OCI: spec });
    await call('StartContainer', { container_id: 'tty-init' });
    await call('TtyWinResize', { container_id: 'tty-init', exec_id: '', row: 50, column: 132 });
    await call('WriteStdin', { container_id: 'tty-init', exec_id: '', data: Buffer.from('tty && stty size; exit 5\n') });
    const out = await output('tty-init', '');
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(out).toContain('50 132');
    expect(await status('tty-init', '')).toBe(5);
    await expect(call('TtyWinResize', { container_id: 'tty-init', exec_id: 'nope', row: 1, column: 1 })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await call('RemoveContainer', { container_id: 'tty-init', timeout: 5 });
  });
});

describe('pod namespaces', () => {
  it('containers share the pod ipc and uts namespaces; sandbox_pidns shares one pid namespace', async () => {
    await startContainer('p1', ['sleep', '1000000'], { sandbox_pidns: true });
    await startContainer('p2', ['sleep', '999999'], { sandbox_pidns: true });
    const ps = await run('p2', 'ps', 'ps -o args');
    expect(ps).toContain('sleep 1000000'); // p1's init is visible from p2
    expect((await run('p2', 'h', 'hostname')).trim()).toBe('pod-test');
    const ipc1 = await run('p1', 'i', 'readlink /proc/self/ns/ipc');
    const ipc2 = await run('p2', 'i', 'readlink /proc/self/ns/ipc');
    expect(ipc1).toBe(ipc2);
    // a container without sandbox_pidns has its own
    await startContainer('p3', ['sleep', '999998']);
    expect(await run('p3', 'ps', 'ps -o args')).not.toContain('sleep 1000000');
    for (const c of ['p2', 'p1', 'p3']) await call('RemoveContainer', { container_id: c, timeout: 5 });
  });
});

describe('without a cgroup for crun (this host)', () => {
  it('pause, resume and update fail with crun\'s reason; the container runs on', async () => {
    await startContainer('cg', ['sleep', '1000000']);
    await expect(call('PauseContainer', { container_id: 'cg' })).rejects.toMatchObject({ code: Code.INTERNAL, message: expect.stringContaining('cannot pause the container without a cgroup') });
    await expect(call('ResumeContainer', { container_id: 'cg' })).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION, message: expect.stringContaining('not paused') });
    await expect(call('UpdateContainer', { container_id: 'cg', resources: { Pids: { Limit: 10 } } })).rejects.toMatchObject({ code: Code.INTERNAL, message: expect.stringContaining('crun update cg') });
    expect((await run('cg', 'alive', 'echo alive')).trim()).toBe('alive');
    await call('RemoveContainer', { container_id: 'cg', timeout: 5 });
  });
});

describe('failures leave nothing behind', () => {
  it('a virtio-blk rootfs whose device never appears: DEADLINE_EXCEEDED naming it', async () => {
    const started = Date.now();
    await expect(agent.client.ttrpc.call(AGENT_SERVICE, 'CreateContainer', readFileSync(path.join(FIXTURES, 'create-container-blk.bin')))).rejects.toMatchObject({
      code: Code.DEADLINE_EXCEEDED,
      message: expect.stringContaining('02/00'),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(mountsUnder(agent.pid, `${SHARED}/3f6c`)).toEqual([]);
  });

  it('a slow call for one container does not hold up calls for another', async () => {
    await startContainer('quick', ['sleep', '1000000']);
    let createSettled = false;
    const slow = agent.client.ttrpc
      .call(AGENT_SERVICE, 'CreateContainer', readFileSync(path.join(FIXTURES, 'create-container-blk.bin')))
      .then(() => 'created', (e: { code: number }) => e.code)
      .finally(() => (createSettled = true));
    // while that create waits for its device (3 s), execs in another container run
    for (let i = 0; i < 5; i++) expect((await run('quick', `q${i}`, `echo ${i}`)).trim()).toBe(String(i));
    expect(createSettled).toBe(false);
    expect(await slow).toBe(Code.DEADLINE_EXCEEDED);
    await call('RemoveContainer', { container_id: 'quick', timeout: 5 });
  });

  it('RemoveContainer with a timeout; GetOOMEvent waits until cancelled', async () => {
    await startContainer('rm', ['sleep', '1000000']);
    await call('RemoveContainer', { container_id: 'rm', timeout: 5 });
    await expect(call('StartContainer', { container_id: 'rm' })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(agent.client.request('GetOOMEvent', {}, { timeoutMs: 300 })).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
  });
});
