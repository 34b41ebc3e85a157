// The fixtures' seccomp profile as crun gets it, and why crun cannot start under it: the calls
// crun makes after loading a profile (before execve) that the profile denies.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { messageToOciJson, specToOciJson } from '../../agent/src/container/oci-json';
import { OciRuntimeError } from '../../agent/src/container/runtime/oci-runtime';
import { explainSeccompFailure, runtimeCallsDeniedByProfile } from '../../agent/src/container/seccomp-profile';
import { AGENT_SERVICE, decodeMessage, findMethod, messageType } from '../../agent/src/proto/schema';
import { KATA_FIXTURES as FIXTURES } from '../fixtures';


function fixtureSpec(): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const req = decodeMessage<Record<string, any>>(findMethod(AGENT_SERVICE, 'CreateContainer')!.requestType, readFileSync(path.join(FIXTURES, 'create-container-virtiofs.bin'))); // eslint-disable-line @typescript-eslint/no-explicit-any
  return specToOciJson(req.OCI);
}

describe('seccomp profile translation', () => {
  it('keeps argument index and value when they are 0 (protobuf leaves them out; OCI requires them)', () => {
    const spec = fixtureSpec();
    const personality = spec.linux.seccomp.syscalls.find((s: { names: string[] }) => s.names.includes('personality'));
    expect(personality.args).toEqual([{ index: 0n, value: 0n, op: 'SCMP_CMP_EQ' }]);
    // the same as the OCI spec the runtime converted from
    const original = JSON.parse(readFileSync(path.join(FIXTURES, 'pod-container-spec.json'), 'utf8'));
    expect(original.linux.seccomp.syscalls[1].args).toEqual([{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }]);
    expect(spec.linux.seccomp).toMatchObject({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] });
    expect(spec.linux.seccomp).not.toHaveProperty('flags');
    expect(spec.process).not.toHaveProperty('noNewPrivileges');
  });

  it('writes ID mappings with a zero container id', () => {
    const json = messageToOciJson(messageType('grpc.LinuxIDMapping'), { HostID: 100000, Size: 65536 });
    expect(json).toEqual({ hostID: 100000, containerID: 0, size: 65536 });
  });
});

describe('calls the OCI runtime makes under the profile', () => {
  it('the fixture profile denies what crun needs after loading it (no noNewPrivileges)', () => {
    expect(runtimeCallsDeniedByProfile(fixtureSpec())).toEqual(['prctl', 'setresgid', 'setresuid', 'capset', 'rt_sigprocmask', 'rt_sigaction']);
  });

  it('a default-allow profile, and one that allows those calls, deny none', () => {
    const spec = fixtureSpec();
    spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['ptrace', 'mkdir'], action: 'SCMP_ACT_ERRNO' }] };
    expect(runtimeCallsDeniedByProfile(spec)).toEqual([]);
    spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['capset'], action: 'SCMP_ACT_ERRNO' }] };
    expect(runtimeCallsDeniedByProfile(spec)).toEqual(['capset']);
    const restricted = fixtureSpec();
    restricted.linux.seccomp.syscalls.push({ names: ['prctl', 'setresgid', 'setresuid', 'capset', 'rt_sigprocmask', 'rt_sigaction'], action: 'SCMP_ACT_ALLOW' });
    expect(runtimeCallsDeniedByProfile(restricted)).toEqual([]);
  });

  it('with noNewPrivileges crun loads the profile just before execve: only execve must pass', () => {
    const spec = fixtureSpec();
    spec.process.noNewPrivileges = true;
    expect(runtimeCallsDeniedByProfile(spec)).toEqual([]);
    spec.linux.seccomp.syscalls[0].names = ['read'];
    expect(runtimeCallsDeniedByProfile(spec)).toEqual(['execve']);
  });

  it('adds the reason to crun\'s error, and only to crun\'s', () => {
    const err = explainSeccompFailure(new OciRuntimeError('create', 'c1', 'prctl drop bounding: Operation not permitted', 1), fixtureSpec()) as Error;
    expect(err).toBeInstanceOf(OciRuntimeError);
    expect(err.message).toMatch(/^crun create c1: prctl drop bounding: Operation not permitted \(the container's seccomp profile denies prctl, setresgid, setresuid, capset, rt_sigprocmask, rt_sigaction, /);
    const other = new Error('x');
    expect(explainSeccompFailure(other, fixtureSpec())).toBe(other);
    const noProfile = new OciRuntimeError('create', 'c1', 'boom', 1);
    expect(explainSeccompFailure(noProfile, { process: {}, linux: {} })).toBe(noProfile);
  });
});
