// The grpc.Spec -> OCI JSON conversion and the guest's rewrite of it, on the real Kata
// runtime's CreateContainer request.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonName, specToOciJson, stringifyOciJson } from '../../agent/src/container/oci-json';
import { clampRlimits } from '../../agent/src/container/rlimits';
import { rewriteSpec } from '../../agent/src/container/spec-rewrite';
import { AGENT_SERVICE, decodeMessage, findMethod } from '../../agent/src/proto/schema';
import { KATA_FIXTURES as FIXTURES } from '../fixtures';

const CID = '3f6c2a9d8e1b4c7a9f0e2d1c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2';

function fixtureSpec(): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const req = decodeMessage<Record<string, any>>(findMethod(AGENT_SERVICE, 'CreateContainer')!.requestType, readFileSync(path.join(FIXTURES, 'create-container-virtiofs.bin'))); // eslint-disable-line @typescript-eslint/no-explicit-any
  return req.OCI;
}

describe('OCI JSON from grpc.Spec', () => {
  it('uses the runtime-spec json names', () => {
    expect(['Version', 'UID', 'OOMScoreAdj', 'CgroupsPath', 'CPU', 'BlockIO', 'errnoret', 'Pagesize', 'Args'].map(jsonName)).toEqual([
      'ociVersion', 'uid', 'oomScoreAdj', 'cgroupsPath', 'cpu', 'blockIO', 'errnoRet', 'pageSize', 'args',
    ]);
  });

  it('converts the Kata fixture field for field, 64-bit values exact, zero values left out', () => {
    const spec = specToOciJson(fixtureSpec());
    expect(spec.process.user).toEqual({ uid: 101, gid: 101, additionalGids: [101] });
    expect(spec.process.args).toEqual(['nginx', '-g', 'daemon off;']);
    expect(spec.process.capabilities.bounding).toContain('CAP_NET_BIND_SERVICE');
    expect(spec.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1048576n, soft: 1048576n }]);
    expect(spec.process.oomScoreAdj).toBe(936n);
    expect(spec.linux.resources.memory.limit).toBe(268435456n);
    expect(spec.linux.resources.cpu).toEqual({ shares: 256n, quota: 50000n, period: 100000n });
    expect(spec.linux.seccomp.syscalls.find((s: { names: string[] }) => s.names.includes('ptrace'))).toMatchObject({ action: 'SCMP_ACT_ERRNO', errnoRet: 1 });
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
    expect(spec.root).toEqual({ path: `/run/kata-containers/shared/containers/${CID}/rootfs` });
    expect(spec).not.toHaveProperty('solaris');
    const text = stringifyOciJson({ big: 18446744073709551615n, neg: -1n, s: 'x' });
    expect(JSON.parse(text.replace('18446744073709551615', '"max"'))).toEqual({ big: 'max', neg: -1, s: 'x' });
    expect(text).toContain('18446744073709551615');
  });
});

describe('guest rewrite of the spec', () => {
  const ctx = {
    containerId: CID,
    rootfs: `/run/kata-containers/shared/containers/${CID}/rootfs`,
    namespaces: { ipc: '/proc/9/ns/ipc', uts: '/proc/9/ns/uts' },
    sandboxShm: '/run/kata-containers/sandbox/shm',
    resolvConf: '/run/kata-containers/sandbox/resolv.conf',
  };

  it('drops hooks and host namespace paths, joins the pod ipc/uts, new pid namespace', () => {
    const spec = specToOciJson(fixtureSpec());
    spec.hooks = { prestart: [{ path: '/usr/bin/host-hook' }] };
    spec.linux.namespaces.push({ type: 'network', path: '/var/run/netns/x' }, { type: 'cgroup', path: '/proc/1/ns/cgroup' });
    const out = rewriteSpec(spec, ctx);
    expect(out).not.toHaveProperty('hooks');
    expect(out.linux.namespaces).toEqual([{ type: 'mount' }, { type: 'cgroup' }, { type: 'ipc', path: '/proc/9/ns/ipc' }, { type: 'uts', path: '/proc/9/ns/uts' }, { type: 'pid' }]);
    expect(out).not.toHaveProperty('hostname'); // lives in the pod's uts namespace
    expect(out.linux.cgroupsPath).toBe(spec.linux.cgroupsPath);
    expect(out.linux.seccomp).toBeDefined();
    expect(rewriteSpec(spec, { ...ctx, applySeccomp: false }).linux).not.toHaveProperty('seccomp');
  });

  it('joins the sandbox pid namespace when given; cgroupsPath defaults to /<cid>', () => {
    const spec = specToOciJson(fixtureSpec());
    delete spec.linux.cgroupsPath;
    const out = rewriteSpec(spec, { ...ctx, namespaces: { ...ctx.namespaces, pid: '/proc/77/ns/pid' } });
    expect(out.linux.namespaces).toContainEqual({ type: 'pid', path: '/proc/77/ns/pid' });
    expect(out.linux.cgroupsPath).toBe(`/${CID}`);
  });

  it('/dev/shm from the sandbox when it has one, a private tmpfs otherwise; resolv.conf only when the spec has none', () => {
    const spec = specToOciJson(fixtureSpec());
    const shm = (o: Record<string, any>) => o.mounts.find((m: { destination: string }) => m.destination === '/dev/shm'); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(shm(rewriteSpec(spec, ctx))).toMatchObject({ source: '/run/kata-containers/sandbox/shm', type: 'bind' });
    expect(shm(rewriteSpec(spec, { ...ctx, sandboxShm: undefined }))).toMatchObject({ source: 'shm', type: 'tmpfs' });
    // the fixture brings its own resolv.conf from the share
    expect(rewriteSpec(spec, ctx).mounts.filter((m: { destination: string }) => m.destination === '/etc/resolv.conf')).toHaveLength(1);
    spec.mounts = spec.mounts.filter((m: { destination: string }) => m.destination !== '/etc/resolv.conf');
    expect(rewriteSpec(spec, ctx).mounts).toContainEqual({ destination: '/etc/resolv.conf', source: ctx.resolvConf, type: 'bind', options: ['bind', 'ro'] });
  });

  it('lowers rlimits above what the agent may grant, only when it must', () => {
    const proc = { rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1048576n, soft: 1048576n }, { type: 'RLIMIT_CORE', hard: 5n, soft: 1n }] };
    expect(clampRlimits(proc, undefined)).toEqual([]);
    expect(clampRlimits(proc, new Map([['RLIMIT_NOFILE', 20000n]]))).toEqual(['RLIMIT_NOFILE']);
    expect(proc.rlimits[0]).toEqual({ type: 'RLIMIT_NOFILE', hard: 20000n, soft: 20000n });
    expect(proc.rlimits[1]).toEqual({ type: 'RLIMIT_CORE', hard: 5n, soft: 1n });
  });
});
