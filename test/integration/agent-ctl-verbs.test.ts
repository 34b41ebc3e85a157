// agent-ctl's verbs, run through its exported run() against real agents: the container agent
// with real crun (sandbox, run, exec, wait, kill, rm, destroy) and the bundled agent in a network
// namespace (net and guest verbs); plus usage errors, which must fail with exit code 2 before any call.
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../agent/cli/agent-ctl';
import { parseOciJson } from '../../agent/cli/oci-spec';
import { specToOciJson, stringifyOciJson } from '../../agent/src/container/oci-json';
import { SANDBOX_SHM, SHARED_CONTAINERS } from '../../agent/src/paths';
import { AGENT_BUNDLE, CTL_BUNDLE } from '../helpers/agent-process';
import { type ContainerAgent, mountsUnder, startContainerAgent } from '../helpers/container-agent';
import { makeBusyboxRootfs } from '../helpers/container-rootfs';
import { containerSpec } from '../helpers/container-spec';
import { netnsMissingReason, TestNetns } from './network-netns';
import { skipUnlessAvailable } from '../helpers/requirement';

interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** agent-ctl in this process, its output captured; `stdin` feeds commands that read it. */
async function ctl(addr: string | undefined, args: string[], stdin?: string): Promise<CtlResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const keep = (into: Buffer[]) => (chunk: string | Uint8Array) => void into.push(Buffer.from(chunk));
  const code = await run([...(addr ? ['--addr', addr] : []), ...args], {
    stdout: keep(out),
    stderr: keep(err),
    stdin: Readable.from(stdin === undefined ? [] : [Buffer.from(stdin)]),
  });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

describe('agent-ctl usage errors (no agent needed)', () => {
  it('an unknown verb, a missing CID or a bad option exits 2 saying what is wrong', async () => {
    expect(await ctl(undefined, ['frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "frobnicate"') });
    expect(await ctl(undefined, ['container', 'start'])).toMatchObject({ code: 2, stderr: expect.stringContaining('container start: missing CID') });
    expect(await ctl(undefined, ['wait'])).toMatchObject({ code: 2, stderr: expect.stringContaining('wait: missing CID') });
    expect(await ctl(undefined, ['container', 'explode', 'c1'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown container command "explode"') });
    expect(await ctl(undefined, ['kill', 'c1', '--signal', 'NOPE'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown signal "NOPE"') });
    expect(await ctl(undefined, ['kill', 'c1', '--all', '--signal', 'TERM'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--all sends SIGKILL only') });
    expect(await ctl(undefined, ['exec', 'c1', '--frob'])).toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--frob'") });
    expect(await ctl(undefined, ['run', '--rootfs-virtiofs'])).toMatchObject({ code: 2, stderr: expect.stringContaining('give the command to run after "--"') });
    expect(await ctl(undefined, ['run', '--rootfs-virtiofs', '--rootfs-9p', 'x', '--', 'true'])).toMatchObject({ code: 2, stderr: expect.stringContaining('give one rootfs source') });
    expect(await ctl(undefined, ['run', '--rootfs-blk', 'zz/00', '--', 'true'])).toMatchObject({ code: 2, stderr: expect.stringContaining('expected a PCI path') });
    const noAddr = await ctl(undefined, ['container', 'start', 'c1']);
    if (!process.env.KATA_AGENT_ADDR) expect(noAddr).toMatchObject({ code: 2, stderr: expect.stringContaining('no agent address') });
    const help = await ctl(undefined, ['--help']);
    expect(help.code).toBe(0);
    for (const verb of ['sandbox create', 'container create', 'run', 'exec', 'net interfaces', 'guest metrics', 'call METHOD']) expect(help.stdout).toContain(verb);
  });

  it('config.json integers beyond 2^53 stay exact (64-bit fields are decimal strings)', () => {
    const parsed = parseOciJson('{"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":1024}]},"s":"12345678901234567890"}') as {
      process: { rlimits: Array<{ hard: unknown; soft: unknown }> };
      s: string;
    };
    expect(parsed.process.rlimits[0]).toMatchObject({ hard: '18446744073709551615', soft: 1024 });
    expect(parsed.s).toBe('12345678901234567890');
  });
});

describe('agent-ctl verbs against the agent with real crun', () => {
  let agent: ContainerAgent;
  let bundleDir: string;

  beforeAll(async () => {
    bundleDir = mkdtempSync(path.join(tmpdir(), 'ctl-bundle-'));
    // The bundles' rootfs are host directories the agent sees as they are: outside Kata's guest
    // paths, so the agent is told to allow them (guest path confinement).
    agent = await startContainerAgent({ extraGuestRoots: [bundleDir] });
  });
  afterAll(async () => {
    await agent?.stop();
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  });

  it('sandbox create mounts the shared fs and /dev/shm and sets hostname and DNS', async () => {
    const r = await ctl(agent.address, ['sandbox', 'create', '--id', 'sb-ctl', '--hostname', 'ctl-pod', '--dns', '10.0.0.53', '--shared-fs', 'virtio-fs']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    const mounts = mountsUnder(agent.pid, '/run/kata-containers');
    expect(mounts).toContain(SHARED_CONTAINERS);
    expect(mounts).toContain(SANDBOX_SHM);
    expect(await ctl(agent.address, ['sandbox', 'create'])).toMatchObject({ code: 1, stderr: expect.stringContaining('ALREADY_EXISTS') });
  });

  it('run from a bundle (config.json + host rootfs): output, stderr, exit code, container removed', async () => {
    // An OCI config.json as a runtime's bundle has it, with root.path relative to the bundle.
    const oci = specToOciJson(containerSpec('bundle-1', ['sh', '-c', 'echo "hello from $(hostname)"; cat /etc/resolv.conf; echo oops >&2; exit 7']));
    oci.root = { path: 'rootfs' };
    writeFileSync(path.join(bundleDir, 'config.json'), stringifyOciJson(oci));
    makeBusyboxRootfs(path.join(bundleDir, 'rootfs'));
    const r = await ctl(agent.address, ['run', '--id', 'bundle-1', '--bundle', bundleDir]);
    expect(r.code).toBe(7);
    expect(r.stdout).toContain('hello from ctl-pod\n');
    expect(r.stdout).toContain('nameserver 10.0.0.53');
    expect(r.stderr).toBe('oops\n');
    expect(await ctl(agent.address, ['wait', 'bundle-1'])).toMatchObject({ code: 1, stderr: expect.stringContaining('NOT_FOUND') });
  });

  it('run with the rootfs in the virtio-fs share and a command line: default spec, args override', async () => {
    agent.addRootfs('share-1');
    const r = await ctl(agent.address, ['run', '--id', 'share-1', '--rootfs-virtiofs', '--env', 'GREETING=hi', '--', 'sh', '-c', 'echo "$GREETING $0 from $(pwd)"', 'arg0']);
    expect(r).toEqual({ code: 0, stdout: 'hi arg0 from /\n', stderr: '' });
    // run --stdin feeds the container our input, then closes it
    agent.addRootfs('share-2');
    const cat = await ctl(agent.address, ['run', '--id', 'share-2', '--rootfs-virtiofs', '--stdin', '--', 'sh', '-c', 'tr a-z A-Z; exit 3'], 'piped text\n');
    expect(cat).toEqual({ code: 3, stdout: 'PIPED TEXT\n', stderr: '' });
  });

  it('the bundled CLI (dist/agent-ctl.js) exits with the container\'s exit code', async () => {
    agent.addRootfs('bundled-1');
    const args = [CTL_BUNDLE, '--addr', agent.address, 'run', '--id', 'bundled-1', '--rootfs-virtiofs', '--', 'sh', '-c', 'echo bundled; echo err >&2; exit 42'];
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, args, (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }));
    });
    expect(r).toEqual({ code: 42, stdout: 'bundled\n', stderr: 'err\n' });
  });

  it('container create/start, exec, read, wait, kill, rm', async () => {
    const cid = 'ctl-1';
    agent.addRootfs(cid);
    const addr = agent.address;
    expect(await ctl(addr, ['container', 'create', '--id', cid, '--rootfs-virtiofs', '--', 'sleep', '1000000'])).toMatchObject({ code: 0 });
    expect(await ctl(addr, ['container', 'start', cid])).toMatchObject({ code: 0 });

    const exec = await ctl(addr, ['exec', cid, '--exec-id', 'e1', '--', 'sh', '-c', 'echo exec-out; echo exec-err >&2; exit 3']);
    expect(exec).toEqual({ code: 0, stdout: 'e1\n', stderr: '' });
    expect(await ctl(addr, ['read', cid, 'e1'])).toEqual({ code: 0, stdout: 'exec-out\n', stderr: '' });
    expect(await ctl(addr, ['read', cid, 'e1', '--stderr'])).toEqual({ code: 0, stdout: 'exec-err\n', stderr: '' });
    const waited = await ctl(addr, ['wait', cid, 'e1']);
    expect(waited.code).toBe(0);
    expect(JSON.parse(waited.stdout)).toEqual({ status: 3 });

    // an exec id is made up when none is given
    const generated = await ctl(addr, ['exec', cid, '--', 'true']);
    expect(generated.stdout).toMatch(/^exec-[0-9a-f]{12}\n$/);
    expect(JSON.parse((await ctl(addr, ['wait', cid, generated.stdout.trim()])).stdout)).toEqual({ status: 0 });

    // exec --wait: streams and exits with the process's status; stdin through write-stdin
    expect(await ctl(addr, ['exec', cid, '--wait', '--', 'sh', '-c', 'echo attached; exit 5'])).toEqual({ code: 5, stdout: 'attached\n', stderr: '' });
    expect(await ctl(addr, ['exec', cid, '--exec-id', 'reader', '--', 'sh', '-c', 'read line; echo "got $line"'])).toMatchObject({ code: 0 });
    expect(await ctl(addr, ['write-stdin', cid, 'reader', '--data', 'over stdin\n', '--close'])).toMatchObject({ code: 0 });
    expect((await ctl(addr, ['read', cid, 'reader'])).stdout).toBe('got over stdin\n');

    // a terminal: resize reaches it, output comes back on the one stream
    expect(await ctl(addr, ['exec', cid, '--exec-id', 'term', '--tty', '--', 'sh', '-c', 'read x; stty size; [ -t 1 ] && echo in-a-tty'])).toMatchObject({ code: 0 });
    expect(await ctl(addr, ['resize', cid, 'term', '--rows', '33', '--cols', '99'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await ctl(addr, ['write-stdin', cid, 'term', '--data', 'go\n'])).toMatchObject({ code: 0 });
    const termOut = (await ctl(addr, ['read', cid, 'term'])).stdout;
    expect(termOut).toContain('33 99\r\n');
    expect(termOut).toContain('in-a-tty');

    // kill by signal name; the status says which signal
    expect(await ctl(addr, ['exec', cid, '--exec-id', 'sleeper', '--', 'sleep', '1000000'])).toMatchObject({ code: 0 });
    expect(await ctl(addr, ['kill', cid, 'sleeper', '--signal', 'USR1'])).toMatchObject({ code: 0 });
    expect(JSON.parse((await ctl(addr, ['wait', cid, 'sleeper'])).stdout)).toEqual({ status: 128 + 10 });

    // stats answers JSON (figures depend on the host's cgroup setup)
    const stats = await ctl(addr, ['container', 'stats', cid]);
    expect(stats.code).toBe(0);
    expect(typeof JSON.parse(stats.stdout)).toBe('object');

    expect(await ctl(addr, ['kill', cid, '--all'])).toMatchObject({ code: 0 });
    expect(JSON.parse((await ctl(addr, ['wait', cid])).stdout)).toEqual({ status: 137 });
    expect(await ctl(addr, ['container', 'rm', cid, '--timeout', '5'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await ctl(addr, ['container', 'stats', cid])).toMatchObject({ code: 1, stderr: expect.stringContaining('NOT_FOUND') });
    expect(agent.zombies()).toBe(0);
  });

  it('--rootfs-blk sends a blk storage for the PCI path; the agent waits for that disk and says so', async () => {
    const r = await ctl(agent.address, ['container', 'create', '--id', 'blk-1', '--rootfs-blk', '1f.7/03:xfs', '--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^agent-ctl: DEADLINE_EXCEEDED: wait for virtio-blk device at PCI path 1f\.7\/03/);
  });

  it('sandbox destroy tears the pod down', async () => {
    expect(await ctl(agent.address, ['sandbox', 'destroy'])).toEqual({ code: 0, stdout: '', stderr: '' });
    await agent.waitForLog('sandbox destroyed: a guest would power off now');
    expect(mountsUnder(agent.pid, '/run/kata-containers')).not.toContain(SHARED_CONTAINERS);
  });
});

/** Resolves once the child logs "agent ready" on stderr; rejects if it exits first. */
function agentReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const timer = setTimeout(() => reject(new Error(`agent not ready:\n${lines.join('\n')}`)), 20_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"msg":"agent ready"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited (${code}) before it was ready:\n${lines.join('\n')}`));
    });
  });
}

// The bundled agent inside a throwaway network namespace, so that the update verbs change
// nothing on this host.
describe.skipIf(skipUnlessAvailable(netnsMissingReason))('agent-ctl net and guest verbs against the bundled agent in a network namespace', () => {
  let ns: TestNetns;
  let agent: ChildProcess | undefined;
  let addr: string;

  beforeAll(async () => {
    ns = await TestNetns.create('ctlnet');
    await ns.ip('link', 'add', 'nic0', 'address', '5a:1c:3e:7f:42:0b', 'type', 'veth', 'peer', 'name', 'nic0-peer');
    await ns.ip('link', 'set', 'nic0-peer', 'up');
    addr = `unix://${path.join(ns.workDir, 'agent.sock')}`;
    agent = ns.spawnNode(AGENT_BUNDLE, { KATA_AGENT_SERVER_ADDR: addr });
    await agentReady(agent);
  });
  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    await ns?.destroy();
  });

  it('net update-interface, update-routes, arp, then interfaces and routes show them', async () => {
    const iface = { device: 'nic0', name: 'eth0', hwAddr: '5a:1c:3e:7f:42:0b', mtu: '1450', IPAddresses: [{ family: 'v4', address: '10.244.1.5', mask: '24' }] };
    writeFileSync(path.join(ns.workDir, 'iface.json'), JSON.stringify(iface));
    const updated = await ctl(addr, ['net', 'update-interface', path.join(ns.workDir, 'iface.json')]);
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ name: 'eth0', mtu: '1450', hwAddr: '5a:1c:3e:7f:42:0b' });

    // a bare array on stdin
    const routes = await ctl(addr, ['net', 'update-routes', '-'], JSON.stringify([{ dest: '10.20.0.0/16', gateway: '10.244.1.1', device: 'eth0' }]));
    expect(routes.code).toBe(0);
    expect(JSON.parse(routes.stdout).Routes).toEqual(expect.arrayContaining([expect.objectContaining({ dest: '10.20.0.0/16', gateway: '10.244.1.1', device: 'eth0' })]));

    const neighbours = { ARPNeighbors: [{ toIPAddress: { family: 'v4', address: '10.244.1.1' }, device: 'eth0', lladdr: 'ee:ee:ee:ee:ee:ee', state: 128 }] };
    expect(await ctl(addr, ['net', 'arp', '-'], JSON.stringify(neighbours))).toEqual({ code: 0, stdout: '', stderr: '' });
    const [neigh] = await ns.ipJson<Array<{ dst: string; lladdr: string }>>('neigh', 'show', 'dev', 'eth0');
    expect(neigh).toMatchObject({ dst: '10.244.1.1', lladdr: 'ee:ee:ee:ee:ee:ee' });

    const listed = JSON.parse((await ctl(addr, ['net', 'interfaces'])).stdout) as { Interfaces: Array<{ name: string; IPAddresses?: Array<{ address: string }> }> };
    expect(listed.Interfaces.find((i) => i.name === 'eth0')?.IPAddresses?.map((a) => a.address)).toContain('10.244.1.5');
    expect(listed.Interfaces.map((i) => i.name)).toContain('lo');
    const listedRoutes = JSON.parse((await ctl(addr, ['net', 'routes'])).stdout) as { Routes: Array<{ dest?: string }> };
    expect(listedRoutes.Routes.map((r) => r.dest)).toContain('10.20.0.0/16');
  });

  it('net iptables set then get: the rules come back as iptables-save text', async () => {
    const rules = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s 10.1.2.3/32 -j DROP\nCOMMIT\n';
    expect(await ctl(addr, ['net', 'iptables', 'set', '-'], rules)).toMatchObject({ code: 0, stderr: '' });
    const saved = await ctl(addr, ['net', 'iptables', 'get']);
    expect(saved.code).toBe(0);
    expect(saved.stdout).toContain('-A INPUT -s 10.1.2.3/32 -j DROP');
  });

  it('guest details, metrics (Prometheus text) and diagnostics', async () => {
    const details = await ctl(addr, ['guest', 'details']);
    expect(details.code).toBe(0);
    const parsed = JSON.parse(details.stdout) as { mem_block_size_bytes?: string; agent_details?: { version?: string } };
    expect(parsed.mem_block_size_bytes).toMatch(/^[1-9]\d*$/); // a uint64, printed as a string
    expect(parsed.agent_details?.version).toBeTruthy();
    const metrics = await ctl(addr, ['guest', 'metrics']);
    expect(metrics.code).toBe(0);
    expect(metrics.stdout).toMatch(/^# (HELP|TYPE) kata_agent_/m);
    expect(metrics.stdout).toMatch(/^kata_guest_\w+/m);
    const diag = await ctl(addr, ['guest', 'diagnostics']);
    expect(diag.code).toBe(0);
    expect(diag.stdout).toContain('agent ready');
  });

  it('an agent error comes back as exit 1 with the status name and the agent message', async () => {
    const r = await ctl(addr, ['guest', 'volume-stats', '/nonexistent/volume']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^agent-ctl: [A-Z_]+: .*\/nonexistent\/volume/);
  });
});
