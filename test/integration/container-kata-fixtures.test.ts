// Requests exactly as Kata 3.19.1's runtime encodes them for a Kubernetes nginx pod, sent as
// raw bytes: the sandbox comes up, the container (uid 101, capabilities, rlimits, seccomp,
// masked paths, /dev/shm from the sandbox, a cgroup mount) starts, and `kubectl exec -it sh`
// style exec with a terminal works.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_SERVICE, decodeMessage, findMethod } from '../../agent/src/proto/schema';
import { Code } from '../../agent/src/ttrpc/status';
import { type ContainerAgent, mountsUnder, startContainerAgent } from '../helpers/container-agent';
import { KATA_FIXTURES as FIXTURES } from '../fixtures';

const fixture = (name: string) => readFileSync(path.join(FIXTURES, `${name}.bin`));
const CID = '3f6c2a9d8e1b4c7a9f0e2d1c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2';

let agent: ContainerAgent;
afterAll(async () => {
  await agent?.stop();
});

/** The shared-dir files the runtime would have put there for the spec's bind mounts. */
function prepareShare(a: ContainerAgent): void {
  a.addRootfs(CID);
  const req = decodeMessage<Record<string, any>>(findMethod(AGENT_SERVICE, 'CreateContainer')!.requestType, fixture('create-container-virtiofs')); // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const m of req.OCI.Mounts as Array<{ source: string; type: string }>) {
    if (m.type === 'bind' && m.source.startsWith('/run/kata-containers/shared/containers/')) {
      const name = path.basename(m.source);
      writeFileSync(path.join(a.sharedDir, name), name.endsWith('hostname') ? 'web-7d9f8c6b5-x2kqz\n' : name.endsWith('hosts') ? '127.0.0.1 localhost\n' : '');
    }
  }
}

const call = <T extends Record<string, unknown> = Record<string, unknown>>(method: string, req: Record<string, unknown>) =>
  agent.client.request<T>(method, req);

describe('Kata 3.19.1 runtime requests, as sent', () => {
  it('with its seccomp profile applied, crun refuses the container clearly and nothing is left', async () => {
    // The fixture's profile allows 14 syscalls and not prctl/capset, which an OCI runtime
    // needs after loading the filter for a non-root user: crun fails at create.
    agent = await startContainerAgent();
    await agent.client.ttrpc.call(AGENT_SERVICE, 'CreateSandbox', fixture('create-sandbox-virtiofs'));
    prepareShare(agent);
    await expect(agent.client.ttrpc.call(AGENT_SERVICE, 'CreateContainer', fixture('create-container-virtiofs'))).rejects.toMatchObject({
      code: Code.INTERNAL,
      message: expect.stringMatching(/crun create 3f6c2a9d.*: prctl drop bounding: Operation not permitted/),
    });
    await expect(call('StartContainer', { container_id: CID })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await call('DestroySandbox', {});
    expect(mountsUnder(agent.pid, '/run/kata-containers/s')).toEqual([]);
    expect(agent.children()).toEqual([]);
    await agent.stop();
  });

  it('CreateSandbox, CreateContainer (virtio-fs rootfs), StartContainer, exec with a terminal (guest seccomp off)', async () => {
    agent = await startContainerAgent({ guestSeccomp: false });
    await agent.client.ttrpc.call(AGENT_SERVICE, 'CreateSandbox', fixture('create-sandbox-virtiofs'));
    expect(mountsUnder(agent.pid, '/run/kata-containers')).toEqual(
      expect.arrayContaining(['/run/kata-containers/shared/containers', '/run/kata-containers/sandbox/shm']),
    );

    prepareShare(agent);
    await agent.client.ttrpc.call(AGENT_SERVICE, 'CreateContainer', fixture('create-container-virtiofs'));
    await call('StartContainer', { container_id: CID });
    const first = await call<{ data: Buffer }>('ReadStdout', { container_id: CID, exec_id: CID, len: 1024 });
    expect(first.data.toString()).toBe('nginx stand-in: -g daemon off;\n');

    await agent.client.ttrpc.call(AGENT_SERVICE, 'ExecProcess', fixture('exec-process-tty'));
    const execId = 'e0a1b2c3d4e5f607';
    await call('WriteStdin', { container_id: CID, exec_id: execId, data: Buffer.from('echo "uid=$(id -u) host=$(hostname) size=$(stty size)"; exit 0\n') });
    const out = (await agent.client.readAllOutput(CID, execId, 'stdout', 4096)).toString();
    expect(out).toContain('uid=0 host=web-7d9f8c6b5-x2kqz size=40 120');
    expect((await call<{ status: number }>('WaitProcess', { container_id: CID, exec_id: execId })).status).toBe(0);

    // The container's init runs as uid 101 as the spec says.
    await call('ExecProcess', { container_id: CID, exec_id: 'ps', process: { Args: ['sh', '-c', 'stat -c %u /proc/1'], Env: ['PATH=/bin'], Cwd: '/', User: {} } });
    const ps = (await agent.client.readAllOutput(CID, 'ps', 'stdout', 4096)).toString();
    expect(ps.trim()).toBe('101');

    // No RemoveContainer (a runtime tearing a pod down by force): DestroySandbox takes the
    // running container with it, then the sandbox's storages and holder.
    await call('DestroySandbox', {});
    await expect(call('WaitProcess', { container_id: CID, exec_id: '' })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    expect(mountsUnder(agent.pid, '/run/kata-containers/s')).toEqual([]);
    expect(agent.children()).toEqual([]);
  });
});
