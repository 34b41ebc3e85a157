// The guest handlers served by the agent over ttRPC on a unix socket, behind the policy hook,
// called with the project's client: responses encode as Kata's schema, errors carry their codes.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/src/agent';
import { AgentClient } from '../../agent/client/agent-client';
import { DEFAULT_CONFIG } from '../../agent/src/config/config';
import { Logger } from '../../agent/src/log/logger';
import { RpcMetrics, withRpcMetrics } from '../../agent/src/metrics';
import { PolicyHolder, withPolicy } from '../../agent/src/policy';
import { AGENT_SERVICE, serviceMethods } from '../../agent/src/proto/schema';
import { guestServiceHandlers } from '../../agent/src/service/guest-service';
import { GuestPathConfinement } from '../../agent/src/storage/confinement';
import { Code } from '../../agent/src/ttrpc/status';

let work: string;
let sys: string;
let agent: RunningAgent;
let client: AgentClient;
const rpcMetrics = new RpcMetrics();

function put(rel: string, text: string): void {
  mkdirSync(path.dirname(path.join(sys, rel)), { recursive: true });
  writeFileSync(path.join(sys, rel), text);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'guest-svc-'));
  sys = path.join(work, 'sys');
  put('devices/system/memory/block_size_bytes', '8000000\n');
  put('devices/system/memory/probe', '');
  put('devices/system/memory/memory3/online', '0\n');
  put('devices/system/cpu/cpu1/online', '0\n');
  const log = Logger.create('info', []);
  const config = { ...DEFAULT_CONFIG, serverAddr: `unix://${path.join(work, 'agent.sock')}`, grpc: false, hotplugTimeoutMs: 300 };
  const policy = new PolicyHolder(undefined, new Set(serviceMethods(AGENT_SERVICE).map((m) => m.method)));
  // Besides Kata's guest paths: a real tmpfs to take stats of, and the test's directory.
  const confinement = new GuestPathConfinement({ extraRoots: ['/dev/shm', work] });
  const handlers = guestServiceHandlers({ log, config, policy, rpcMetrics, sysRoot: sys, devRoot: path.join(work, 'dev'), confinement });
  agent = await startAgent(config, log, { agentImpl: withRpcMetrics(rpcMetrics, withPolicy(policy, handlers)) });
  client = await AgentClient.connect(agent.address);
});

afterAll(async () => {
  client?.close();
  await agent?.close();
  rmSync(work, { recursive: true, force: true });
});

const failure = (p: Promise<unknown>) => p.then(() => ({ code: 0, message: 'no error' }), (e: { code: number; message: string }) => ({ code: e.code, message: e.message }));

describe('guest handlers over ttRPC', () => {
  it('GetMetrics returns the Prometheus page', async () => {
    await client.request('GetGuestDetails', {});
    expect(await failure(client.request('ResizeVolume', {}))).toMatchObject({ code: Code.UNIMPLEMENTED });
    const { metrics } = await client.request<{ metrics: string }>('GetMetrics');
    expect(metrics).toMatch(/^# HELP kata_agent_scrape_count /);
    for (const family of ['kata_agent_process_resident_memory_bytes', 'kata_agent_rpc_requests_total', 'kata_guest_meminfo', 'kata_guest_cpu_time', 'kata_guest_netdev_stat']) {
      expect(metrics).toContain(`# TYPE ${family} `);
    }
    // Calls observed by withRpcMetrics around the handlers (this GetMetrics call is still running).
    expect(metrics).toContain('kata_agent_rpc_requests_total{method="GetGuestDetails",code="OK"} 1\n');
    expect(metrics).toContain('kata_agent_rpc_requests_total{method="ResizeVolume",code="UNIMPLEMENTED"} 1\n');
    expect(metrics).toMatch(/kata_agent_rpc_duration_seconds_count\{method="GetGuestDetails"\} 1\n/);
    expect(metrics).not.toContain('method="GetMetrics"');
  });

  it('GetGuestDetails answers from sysfs, with the agent details', async () => {
    const d = await client.request('GetGuestDetails', { mem_block_size: true, mem_hotplug_probe: true });
    expect(d).toMatchObject({ mem_block_size_bytes: '134217728', support_mem_hotplug_probe: true, agent_details: { init_daemon: false, extra_features: [] } });
    expect((d.agent_details as { storage_handlers: string[] }).storage_handlers).toContain('virtio-fs');
    // image_guest_pull is known (it answers UNIMPLEMENTED) but not advertised as a handler.
    expect((d.agent_details as { storage_handlers: string[] }).storage_handlers).not.toContain('image_guest_pull');
  });

  it('OnlineCPUMem (wait) onlines CPUs and memory; MemHotplugByProbe writes the probe file', async () => {
    await client.request('OnlineCPUMem', { wait: true, nb_cpus: 1, cpu_only: false });
    expect(readFileSync(path.join(sys, 'devices/system/cpu/cpu1/online'), 'utf8')).toBe('1');
    expect(readFileSync(path.join(sys, 'devices/system/memory/memory3/online'), 'utf8')).toBe('1');
    await client.request('MemHotplugByProbe', { memHotplugProbeAddr: ['4294967296'] });
    expect(readFileSync(path.join(sys, 'devices/system/memory/probe'), 'utf8')).toBe('0x100000000');
  });

  it('GetVolumeStats gives bytes and inodes as CSI units', async () => {
    const r = await client.request<{ usage: Array<{ unit: string; total: string }> }>('GetVolumeStats', { volume_guest_path: '/dev/shm' });
    expect(r.usage.map((u) => u.unit)).toEqual(['BYTES', 'INODES']);
    expect(BigInt(r.usage[0]!.total)).toBeGreaterThan(0n);
    expect(await failure(client.request('GetVolumeStats', { volume_guest_path: path.join(work, 'no/such/volume') }))).toMatchObject({ code: Code.NOT_FOUND });
    // A Kata path passes the confinement (and is not there on this host).
    expect(await failure(client.request('GetVolumeStats', { volume_guest_path: '/run/kata-containers/sandbox/storage/no-such-volume' }))).toMatchObject({ code: Code.NOT_FOUND });
  });

  it('refuses guest paths outside the allowed roots with PERMISSION_DENIED naming the rule, before touching them', async () => {
    for (const p of ['/', '/etc/shadow', '/proc/1/root', '/dev/shm/../../etc', `${work}/../../etc/shadow`]) {
      const denied = await failure(client.request('GetVolumeStats', { volume_guest_path: p }));
      expect(denied, p).toMatchObject({ code: Code.PERMISSION_DENIED, message: expect.stringContaining('GetVolumeStats: guest path confinement: volume stats') });
    }
    for (const p of ['/etc/passwd', '/swapfile', '/tmp/swapfile']) {
      const denied = await failure(client.request('AddSwapPath', { path: p }));
      expect(denied, p).toMatchObject({ code: Code.PERMISSION_DENIED, message: expect.stringContaining('AddSwapPath: guest path confinement: swap') });
    }
    const remount = await failure(client.request('UpdateEphemeralMounts', { storages: [{ driver: 'ephemeral', fstype: 'tmpfs', options: ['size=1k'], mount_point: '/run' }] }));
    expect(remount).toMatchObject({ code: Code.PERMISSION_DENIED, message: expect.stringContaining('UpdateEphemeralMounts: storage 0: guest path confinement: mount point "/run"') });
    // The host cannot widen the roots with SetPolicy: they only come with the image.
    const widen = await failure(client.request('SetPolicy', { policy: JSON.stringify({ allow_guest_roots: ['/etc'] }) }));
    expect(widen).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining("allow_guest_roots is only taken from the image's policy file") });
    expect(await failure(client.request('GetVolumeStats', { volume_guest_path: '/etc' }))).toMatchObject({ code: Code.PERMISSION_DENIED });
  });

  it('answers clearly what it does not do, and checks arguments before touching the host', async () => {
    expect(await failure(client.request('ResizeVolume', { volume_guest_path: '/v', size: '1024' }))).toMatchObject({ code: Code.UNIMPLEMENTED, message: expect.stringContaining('ResizeVolume of /v') });
    expect(await failure(client.request('MemAgentMemcgSet', { swap: true }))).toMatchObject({ code: Code.UNIMPLEMENTED, message: expect.stringContaining('mem-agent') });
    expect(await failure(client.request('MemAgentCompactSet', {}))).toMatchObject({ code: Code.UNIMPLEMENTED });
    expect(await failure(client.request('SetGuestDateTime', { Sec: '-1', Usec: '0' }))).toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect(await failure(client.request('ReseedRandomDev', { data: Buffer.alloc(0) }))).toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect(await failure(client.request('AddSwapPath', { path: path.join(work, 'missing-swapfile') }))).toMatchObject({ code: Code.NOT_FOUND });
    // No PCI device 02/03 in the fake sysfs: the hotplug wait gives up with the path in the message.
    expect(await failure(client.request('AddSwap', { PCIPath: [2, 3] }))).toMatchObject({ code: Code.DEADLINE_EXCEEDED, message: expect.stringContaining('02/03') });
  });

  it('SetPolicy: bad input keeps the old policy; a good one is enforced with the rule named', async () => {
    const bad = await failure(client.request('SetPolicy', { policy: '{"rules": [{"method": "GetVolumeStats"}]}' }));
    expect(bad).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('says nothing') });
    await client.request('GetVolumeStats', { volume_guest_path: '/dev/shm' }); // still allowed

    await client.request('SetPolicy', { policy: JSON.stringify({ rules: [{ name: 'no-volume-stats', method: 'GetVolumeStats', deny: true }] }) });
    expect(await failure(client.request('GetVolumeStats', { volume_guest_path: '/dev/shm' }))).toEqual({
      code: Code.PERMISSION_DENIED,
      message: 'GetVolumeStats denied by policy rule "no-volume-stats": GetVolumeStats is denied',
    });

    // A policy may lock itself: SetPolicy is checked against the active policy first.
    await client.request('SetPolicy', { policy: JSON.stringify({ rules: [{ name: 'locked', method: 'SetPolicy', deny: true }] }) });
    expect(await failure(client.request('SetPolicy', { policy: '{}' }))).toMatchObject({ code: Code.PERMISSION_DENIED, message: expect.stringContaining('"locked"') });
    await client.request('GetVolumeStats', { volume_guest_path: '/dev/shm' }); // the lock replaced the earlier deny
  });

  it('GetDiagnosticData returns the agent log tail; an unknown log type is refused', async () => {
    const { data } = await client.request<{ data: string }>('GetDiagnosticData', { log_type: 'agent' });
    expect(data.split('\n').filter(Boolean).map((l) => JSON.parse(l).msg)).toContain('policy set');
    expect(await failure(client.request('GetDiagnosticData', { log_type: 'journal' }))).toMatchObject({ code: Code.INVALID_ARGUMENT });
  });
});
