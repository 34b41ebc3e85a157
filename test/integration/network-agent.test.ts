// End to end over ttRPC: the agent server with the network service runs inside a test network
// namespace on a unix socket (a path, so this process can reach it from its own namespace);
// the project's AgentClient sends the Kata runtime's requests exactly as recorded.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import { decodeMessage, findMethod } from '../../agent/src/proto/schema';
import { Code, RpcError } from '../../agent/src/ttrpc/status';
import { bundleForNode } from '../helpers/ns-scenarios';
import { TestNetns, netnsMissingReason } from './network-netns';
import { skipUnlessAvailable } from '../helpers/requirement';
import { KATA_FIXTURES as FIXTURES } from '../fixtures';

const fixtureRequest = (method: string, file: string) =>
  decodeMessage(findMethod('grpc.AgentService', method)!.requestType, readFileSync(path.join(FIXTURES, `${file}.bin`)));

/** Resolves with the first log line for which `match` holds; rejects if the process ends first. */
function waitForLog(child: ChildProcess, match: (entry: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let partial = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`no matching log line in ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (match(entry)) {
            clearTimeout(timer);
            resolve(entry);
          }
        } catch {
          // not a log line
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited (${code}) before it was ready:\n${stderr}`));
    });
  });
}

describe.skipIf(skipUnlessAvailable(netnsMissingReason))('network service over ttRPC, agent in a network namespace', () => {
  let ns: TestNetns;
  let agent: ChildProcess | undefined;
  let client: AgentClient | undefined;

  beforeAll(async () => {
    ns = await TestNetns.create('netagent');
    await ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    await ns.ip('link', 'add', 'nic0', 'address', '5a:1c:3e:7f:42:0b', 'type', 'veth', 'peer', 'name', 'nic0-peer');
    await ns.ip('link', 'set', 'nic0-peer', 'up');
    const bundle = await bundleForNode(path.join(__dirname, 'network-agent-entry.ts'), path.join(ns.workDir, 'network-agent.mjs'));
    const socket = path.join(ns.workDir, 'agent.sock');
    agent = ns.spawnNode(bundle, { KATA_TEST_NET_AGENT: `unix://${socket}` });
    await waitForLog(agent, (e) => e.msg === 'agent ready', 20_000);
    client = await AgentClient.connect(`unix://${socket}`);
  });

  afterAll(async () => {
    client?.close();
    if (agent && agent.exitCode === null) {
      const exited = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    await ns?.destroy();
  });

  it('applies UpdateInterface, UpdateRoutes and AddARPNeighbors as the runtime sent them, and lists the result', async () => {
    const iface = await client!.request('UpdateInterface', fixtureRequest('UpdateInterface', 'update-interface'));
    expect(iface).toMatchObject({ name: 'eth0', mtu: '1450', hwAddr: '5a:1c:3e:7f:42:0b' });
    const routes = await client!.request<{ Routes: { dest: string; gateway: string; device: string }[] }>('UpdateRoutes', fixtureRequest('UpdateRoutes', 'update-routes'));
    expect(routes.Routes).toEqual(expect.arrayContaining([expect.objectContaining({ dest: '', gateway: '10.244.1.1', device: 'eth0' })]));
    expect(await client!.request('AddARPNeighbors', fixtureRequest('AddARPNeighbors', 'add-arp-neighbors'))).toEqual({});

    const listed = await client!.request<{ Interfaces: { name: string; IPAddresses: { address: string }[] }[] }>('ListInterfaces');
    const eth0 = listed.Interfaces.find((i) => i.name === 'eth0')!;
    expect(eth0.IPAddresses.map((a) => a.address)).toEqual(expect.arrayContaining(['10.244.1.5', 'fd00:10:244:1::5']));
    expect((await client!.request<{ Routes: unknown[] }>('ListRoutes')).Routes).toEqual(routes.Routes);
    const [neigh] = await ns.ipJson<{ dst: string; lladdr: string; state: string[] }[]>('neigh', 'show', 'dev', 'eth0');
    expect(neigh).toMatchObject({ dst: '10.244.1.1', lladdr: 'ee:ee:ee:ee:ee:ee', state: ['PERMANENT'] });
  });

  it('answers a bad request with the status code and message on the wire', async () => {
    const err = await client!.request('UpdateInterface', { interface: { hwAddr: 'not-a-mac', name: 'x', IPAddresses: [], mtu: '0', device: '', pciPath: '', type: '', raw_flags: 0 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.INVALID_ARGUMENT);
    expect((err as RpcError).message).toMatch(/bad MAC address 'not-a-mac'/);
  });

  it('stops cleanly on SIGTERM: the idle netlink socket holds nothing open', async () => {
    client!.close();
    client = undefined;
    const exited = new Promise<[number | null, string | null]>((r) => agent!.once('exit', (code, signal) => r([code, signal])));
    agent!.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
  });
});
