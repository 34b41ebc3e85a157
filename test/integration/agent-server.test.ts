// The bundled agent as a process: where it listens, Health, every AgentService method
// registered, agent-ctl, hybrid vsock dialing and the gRPC face on the same socket.
import * as grpc from '@grpc/grpc-js';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import { AGENT_SERVICE, serviceMethods } from '../../agent/src/proto/schema';
import { Code } from '../../agent/src/ttrpc/status';
import { AGENT_BUNDLE, type AgentProcess, CTL_BUNDLE, startAgentProcess, tempDir } from '../helpers/agent-process';

const execFileP = promisify(execFile);
let agent: AgentProcess | undefined;
const closers: Array<() => void> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await agent?.stop();
  agent = undefined;
});

async function client(address: string): Promise<AgentClient> {
  const c = await AgentClient.connect(address);
  closers.push(() => c.close());
  return c;
}

describe('agent process', () => {
  it('takes its address from agent.server_addr on the kernel command line', async () => {
    const sock = path.join(tempDir('addr-'), 'a.sock');
    agent = await startAgentProcess({ args: ['--cmdline', `quiet agent.server_addr=unix://${sock} agent.log=debug`] });
    expect(agent.address).toBe(`unix://${sock}`);
    const c = await client(agent.address);
    expect(await c.request('Health/Check')).toEqual({ status: 'SERVING' });
  });

  it('keeps serving, and stops on SIGTERM, after the reader of its stderr goes away', async () => {
    const sock = path.join(tempDir('epipe-'), 'a.sock');
    agent = await startAgentProcess({ args: ['--server-addr', `unix://${sock}`, '--log-level', 'debug'] });
    agent.child.stderr!.destroy();
    // Each connection and call logs at debug level: each of those writes now fails with EPIPE.
    for (let i = 0; i < 3; i++) {
      const c = await client(agent.address);
      expect(await c.request('Health/Check')).toEqual({ status: 'SERVING' });
      c.close();
    }
    // A failed write fed back into the log (through uncaughtException) would spin without end,
    // and the shutdown's own log lines would keep SIGTERM from ever ending the process.
    expect(await agent.stop()).toBe(0);
    agent = undefined;
  });

  it('with --exit-when-ready, logs "agent ready" to a stderr file and exits 0', async () => {
    // How start-up benchmarks run it (bench/agent-start-instructions.ts). With stderr on a file,
    // the agent writes its lines itself rather than through process.stderr's stream.
    const dir = tempDir('exit-ready-');
    const stderr = openSync(path.join(dir, 'stderr.log'), 'w');
    try {
      const child = spawn(process.execPath, [AGENT_BUNDLE, '--server-addr', `unix://${path.join(dir, 'a.sock')}`, '--exit-when-ready'], { stdio: ['ignore', 'ignore', stderr] });
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      closeSync(stderr);
    }
    const lines = readFileSync(path.join(dir, 'stderr.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    expect(lines.at(-1)!.msg).toBe('agent ready');
  });

  it('takes KATA_AGENT_SERVER_ADDR over the command line, and a flag over both; abstract sockets work', async () => {
    agent = await startAgentProcess({
      args: ['--cmdline', 'agent.server_addr=unix:///nonexistent/dir/x.sock'],
      env: { KATA_AGENT_SERVER_ADDR: `unix://@kata-agent-test-${process.pid}` },
    });
    expect(agent.address).toBe(`unix://@kata-agent-test-${process.pid}`);
    expect(await (await client(agent.address)).request('Health/Version')).toEqual({ grpc_version: '0.0.1', agent_version: '0.1.0' });
    await agent.stop();
    const sock = path.join(tempDir('addr-'), 'flag.sock');
    agent = await startAgentProcess({ args: ['--server-addr', `unix://${sock}`], env: { KATA_AGENT_SERVER_ADDR: 'unix:///nonexistent/y.sock' } });
    expect(agent.address).toBe(`unix://${sock}`);
  });

  it('registers all 42 AgentService methods and decodes each request strictly', async () => {
    const sock = path.join(tempDir('addr-'), 'a.sock');
    agent = await startAgentProcess({ args: ['--server-addr', `unix://${sock}`] });
    const c = await client(agent.address);
    const methods = serviceMethods(AGENT_SERVICE);
    expect(methods).toHaveLength(42);
    // A truncated field never reaches a handler (so nothing here changes the host), yet proves
    // that each method is registered: an unregistered one would answer UNIMPLEMENTED instead.
    const truncated = Buffer.from([0x0a, 0x7f]);
    for (const m of methods) {
      await expect(c.ttrpc.call(AGENT_SERVICE, m.method, truncated), m.method).rejects.toMatchObject({
        code: Code.INVALID_ARGUMENT,
        message: expect.stringContaining(`${m.method}: bad request`),
      });
    }
    await expect(c.ttrpc.call(AGENT_SERVICE, 'NoSuchMethod', new Uint8Array())).rejects.toMatchObject({ code: Code.UNIMPLEMENTED, message: expect.stringContaining('NoSuchMethod') });
    await expect(c.ttrpc.call('grpc.NoService', 'X', new Uint8Array())).rejects.toMatchObject({ code: Code.UNIMPLEMENTED });
    // the connection goes on after all those errors
    expect(await c.request('Health/Check')).toEqual({ status: 'SERVING' });
    // a method without an implementation says so, naming itself
    await expect(c.request('ResizeVolume', { volume_guest_path: '/x', size: '1' })).rejects.toMatchObject({
      code: Code.UNIMPLEMENTED,
      message: expect.stringContaining('ResizeVolume'),
    });
  });

  it('agent-ctl: check, version, call with JSON, and clear errors', async () => {
    const sock = path.join(tempDir('addr-'), 'a.sock');
    agent = await startAgentProcess({ args: ['--server-addr', `unix://${sock}`] });
    const ctl = (...args: string[]) => execFileP(process.execPath, [CTL_BUNDLE, ...args]).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
    expect(JSON.parse((await ctl('--addr', agent.address, 'check')).stdout)).toEqual({ status: 'SERVING' });
    expect(JSON.parse((await ctl('--addr', agent.address, 'version')).stdout)).toEqual({ grpc_version: '0.0.1', agent_version: '0.1.0' });
    expect(JSON.parse((await ctl('--addr', agent.address, 'call', 'grpc.Health/Check', '{"service":"x"}')).stdout)).toEqual({ status: 'SERVING' });
    const bad = await ctl('--addr', agent.address, 'call', 'CreateContainer', '{oops');
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('bad JSON request') });
    const refused = await ctl('--addr', 'unix:///nonexistent/agent.sock', 'check');
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('ENOENT') });
    const badAddr = await ctl('--addr', 'tcp://1.2.3.4:5', 'check');
    expect(badAddr.stderr).toContain('unknown scheme "tcp"');
    const unknown = await ctl('--addr', agent.address, 'call', 'NoSuch', '{}');
    expect(unknown.stderr).toContain('unknown method "NoSuch"');
    const unimpl = await ctl('--addr', agent.address, 'call', 'SetPolicy', '{"policy":"x"}');
    if (unimpl.code !== 0) expect(unimpl.stderr).toMatch(/SetPolicy/);
  });

  it('is reachable through a hybrid vsock proxy (CONNECT <port> / OK)', async () => {
    const dir = tempDir('hv-');
    const agentSock = path.join(dir, 'agent.sock');
    agent = await startAgentProcess({ args: ['--server-addr', `unix://${agentSock}`] });
    // A stand-in for Firecracker's / Cloud Hypervisor's hybrid vsock muxer.
    const ports: number[] = [];
    const proxy = net.createServer((conn) => {
      conn.once('data', (first: Buffer) => {
        const text = first.toString();
        const m = /^CONNECT (\d+)\n/.exec(text);
        if (!m || m[1] !== '1024') return void conn.end('ERR no such port\n');
        ports.push(Number(m[1]));
        const upstream = net.connect(agentSock, () => {
          conn.write('OK 1073741824\n');
          conn.pipe(upstream).pipe(conn);
        });
      });
    });
    const muxPath = path.join(dir, 'hv.sock');
    await new Promise<void>((r) => proxy.listen(muxPath, r));
    closers.push(() => proxy.close());
    const c = await client(`hvsock://${muxPath}:1024`);
    expect(await c.request('Health/Check')).toEqual({ status: 'SERVING' });
    expect(ports).toEqual([1024]);
    await expect(AgentClient.connect(`hvsock://${muxPath}:9`)).rejects.toThrow(/refused CONNECT 9: "ERR no such port"/);
  });

  it('serves gRPC (HTTP/2) on the same socket: standard health and the agent services', async () => {
    const sock = path.join(tempDir('addr-'), 'a.sock');
    agent = await startAgentProcess({ args: ['--server-addr', `unix://${sock}`] });
    const ident = (b: Buffer) => b;
    const client = new grpc.Client(`unix://${sock}`, grpc.credentials.createInsecure());
    closers.push(() => client.close());
    const unary = (p: string, req: Buffer) =>
      new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(p, ident, ident, req, (err, res) => (err ? reject(err) : resolve(res!))),
      );
    // grpc.health.v1.HealthCheckResponse{status=SERVING(1)} = 08 01
    expect([...(await unary('/grpc.health.v1.Health/Check', Buffer.alloc(0)))]).toEqual([0x08, 0x01]);
    expect([...(await unary('/grpc.Health/Check', Buffer.alloc(0)))]).toEqual([0x08, 0x01]);
    await expect(unary('/grpc.AgentService/ResizeVolume', Buffer.alloc(0))).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    // and ttRPC still works on the same listener
    expect(await (await AgentClient.connect(`unix://${sock}`)).request('Health/Check')).toEqual({ status: 'SERVING' });
  });

  it('loads grpc-js only when the first gRPC connection arrives', async () => {
    const sock = path.join(tempDir('addr-'), 'a.sock');
    agent = await startAgentProcess({
      args: ['--server-addr', `unix://${sock}`],
      nodeArgs: ['--require', path.join(__dirname, '../helpers/builtin-probe.cjs')],
      ipc: true,
    });
    const child = agent.child;
    const builtins = () =>
      new Promise<string[]>((resolve) => {
        child.once('message', (m) => resolve(m as string[]));
        child.send('builtins');
      });
    // grpc-js is the only user of HTTP/2 in the agent.
    expect(await client(`unix://${sock}`).then((c) => c.request('Health/Check'))).toEqual({ status: 'SERVING' });
    expect(await builtins()).not.toContain('http2');
    const grpcClient = new grpc.Client(`unix://${sock}`, grpc.credentials.createInsecure());
    closers.push(() => grpcClient.close());
    const reply = await new Promise<Buffer>((resolve, reject) =>
      grpcClient.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err, res) => (err ? reject(err) : resolve(res!))),
    );
    expect([...reply]).toEqual([0x08, 0x01]);
    expect(await builtins()).toContain('http2');
  });
});
