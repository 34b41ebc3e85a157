// The agent honours a container's seccomp profile (guest seccomp on, the default): crun loads
// it and the workload's calls get the profile's answers, argument conditions included. The Kata
// fixtures' profile, sent as-is, cannot start a container under any OCI runtime (it denies the
// runtime's own capability drop and user switch, and even a static binary's arch_prctl): the
// agent refuses it with an error that names the calls the profile denies.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_SERVICE, decodeMessage, findMethod } from '../../agent/src/proto/schema';
import { Code } from '../../agent/src/ttrpc/status';
import { type ContainerAgent, mountsUnder, startContainerAgent } from '../helpers/container-agent';
import { containerSpec, processSpec, sandboxRequest } from '../helpers/container-spec';
import { KATA_FIXTURES as FIXTURES } from '../fixtures';

const fixture = (name: string) => readFileSync(path.join(FIXTURES, `${name}.bin`));
const FIXTURE_CID = '3f6c2a9d8e1b4c7a9f0e2d1c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2';
const ENOSYS = 38;

let agent: ContainerAgent;

const call = <T extends Record<string, unknown> = Record<string, unknown>>(method: string, req: Record<string, unknown>) =>
  agent.client.request<T>(method, req);

async function readAll(cid: string, execId: string, which: 'stdout' | 'stderr'): Promise<string> {
  return (await agent.client.readAllOutput(cid, execId, which)).toString();
}

beforeAll(async () => {
  agent = await startContainerAgent();
  await call('CreateSandbox', sandboxRequest());
});

afterAll(async () => {
  await agent?.stop();
});

describe('guest seccomp', () => {
  it('a profile with errno returns and argument conditions is enforced in the container', async () => {
    const cid = 'scmp';
    agent.addRootfs(cid);
    const spec = containerSpec(cid, ['sleep', '1000000']) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    spec.Linux.Seccomp = {
      DefaultAction: 'SCMP_ACT_ALLOW',
      Architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      Syscalls: [
        { Names: ['mkdir', 'mkdirat'], Action: 'SCMP_ACT_ERRNO', errnoret: ENOSYS },
        // chmod(path, 0) only: argument 1 equal to 0, a value protobuf does not put on the wire
        { Names: ['chmod'], Action: 'SCMP_ACT_ERRNO', errnoret: 1, Args: [{ Index: 1, Value: 0, Op: 'SCMP_CMP_EQ' }] },
      ],
    };
    await call('CreateContainer', { container_id: cid, exec_id: cid, OCI: spec });
    await call('StartContainer', { container_id: cid });
    const script = [
      'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status',
      'touch /tmp/f',
      'chmod 644 /tmp/f && echo chmod-644-allowed',
      'chmod 0 /tmp/f || echo chmod-0-denied',
      'mkdir /tmp/d || echo mkdir-denied',
    ].join('; ');
    await call('ExecProcess', { container_id: cid, exec_id: 'probe', process: processSpec(['sh', '-c', script]) });
    const [out, err] = await Promise.all([readAll(cid, 'probe', 'stdout'), readAll(cid, 'probe', 'stderr')]);
    expect(out).toMatch(/^Seccomp:\s+2$/m); // filter mode
    expect(out).toMatch(/^NoNewPrivs:\s+0$/m); // the spec did not ask for it, and the agent did not add it
    expect(out).toContain('chmod-644-allowed');
    expect(out).toContain('chmod-0-denied');
    expect(err).toContain('Operation not permitted');
    expect(out).toContain('mkdir-denied');
    expect(err).toContain('Function not implemented');
    expect((await call<{ status: number }>('WaitProcess', { container_id: cid, exec_id: 'probe' })).status).toBe(0);
    await call('RemoveContainer', { container_id: cid, timeout: 10 });
  });

  it('the Kata fixture, profile as-is: refused with the calls its profile denies, nothing left behind', async () => {
    agent.addRootfs(FIXTURE_CID);
    const req = decodeMessage<Record<string, any>>(findMethod(AGENT_SERVICE, 'CreateContainer')!.requestType, fixture('create-container-virtiofs')); // eslint-disable-line @typescript-eslint/no-explicit-any
    for (const m of req.OCI.Mounts as Array<{ source: string; type: string }>) {
      if (m.type === 'bind' && m.source.startsWith('/run/kata-containers/shared/containers/')) writeFileSync(path.join(agent.sharedDir, path.basename(m.source)), '');
    }
    const before = agent.children().length;
    await expect(agent.client.ttrpc.call(AGENT_SERVICE, 'CreateContainer', fixture('create-container-virtiofs'))).rejects.toMatchObject({
      code: Code.INTERNAL,
      message: expect.stringMatching(/prctl drop bounding: Operation not permitted \(the container's seccomp profile denies prctl, setresgid, setresuid, capset, rt_sigprocmask, rt_sigaction, which the OCI runtime calls after loading it/),
    });
    await expect(call('StartContainer', { container_id: FIXTURE_CID })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    expect(agent.children().length).toBe(before);
    expect(mountsUnder(agent.pid, `/run/kata-containers/${FIXTURE_CID}`)).toEqual([]);
  });
});
