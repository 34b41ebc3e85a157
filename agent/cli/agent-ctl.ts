// agent-ctl: talk to a Kata agent from the host (like kata-agent-ctl).
import { readFileSync } from 'node:fs';
import { AgentClient, resolveMethod } from '../src/client/agent-client';
import { AGENT_SERVICE, serviceMethods } from '../src/proto/schema';
import { RpcError, codeName } from '../src/ttrpc/status';

const USAGE = `usage: agent-ctl [--addr ADDR] [--timeout SECONDS] COMMAND
  ADDR: unix:///path, unix://@name, vsock://CID:PORT, hvsock:///path/to/socket:PORT,
        serial:///path/to/qemu-chardev.sock   (default: $KATA_AGENT_ADDR)
commands:
  check                       grpc.Health/Check
  version                     grpc.Health/Version
  call METHOD [JSON|@FILE|-]  any method (e.g. CreateContainer, Health/Check) with a
                              proto-JSON request; prints the reply as JSON
  methods                     list the AgentService methods
  logs [--follow]             read the agent's log vport (ADDR is e.g. vsock://3:1025)
  console                     attach to the debug console vport (ADDR e.g. vsock://3:1026)`;

class UsageError extends Error {}

function readJsonArg(arg: string | undefined): unknown {
  const text = arg === undefined ? '{}' : arg === '-' ? readFileSync(0, 'utf8') : arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`bad JSON request: ${(err as Error).message}`);
  }
}

export async function run(argv: string[], out: (s: string) => void = (s) => void process.stdout.write(s)): Promise<number> {
  let addr = process.env.KATA_AGENT_ADDR;
  let timeoutMs = 30_000;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--addr') addr = argv[++i];
    else if (a === '--timeout') timeoutMs = Number(argv[++i]) * 1000;
    else if (a === '-h' || a === '--help') {
      out(USAGE + '\n');
      return 0;
    } else rest.push(a);
  }
  const [command, ...args] = rest;
  if (!command) throw new UsageError(USAGE);
  if (command === 'methods') {
    for (const m of serviceMethods(AGENT_SERVICE)) out(`${m.method}\t${m.requestType.name} -> ${m.responseType.name}\n`);
    return 0;
  }
  if (command === 'logs' || command === 'console') {
    if (!addr) throw new UsageError('no address: give --addr');
    return attachStream(addr, command === 'console', args.includes('--follow') || command === 'console', timeoutMs);
  }
  let method: string;
  let request: unknown = {};
  if (command === 'check') method = 'Health/Check';
  else if (command === 'version') method = 'Health/Version';
  else if (command === 'call') {
    if (!args[0]) throw new UsageError('call needs a METHOD');
    method = args[0];
    resolveMethod(method); // unknown names fail before connecting
    request = readJsonArg(args[1]);
  } else throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout needs a positive number of seconds');
  if (!addr) throw new UsageError('no agent address: give --addr or set KATA_AGENT_ADDR');

  const client = await AgentClient.connect(addr, { timeoutMs: Math.min(timeoutMs, 10_000) });
  try {
    const reply = await client.requestJson(method, request, { timeoutMs });
    out(JSON.stringify(reply, null, 2) + '\n');
    return 0;
  } finally {
    client.close();
  }
}

// Raw byte streams: the log vport (read only) and the debug console (both ways).
async function attachStream(addr: string, interactive: boolean, follow: boolean, timeoutMs: number): Promise<number> {
  const { dial } = await import('../src/transport/dial');
  const socket = await dial(addr, { timeoutMs: Math.min(timeoutMs, 10_000) });
  socket.pipe(process.stdout);
  if (interactive) {
    if (process.stdin.isTTY) process.stdin.setRawMode(true);
    process.stdin.pipe(socket);
  }
  return new Promise((resolve) => {
    // Without --follow, stop once the backlog has been read (the agent keeps the stream open).
    let idle: NodeJS.Timeout | undefined;
    const bump = () => {
      if (follow) return;
      clearTimeout(idle);
      idle = setTimeout(() => socket.destroy(), 500);
    };
    socket.on('data', bump);
    bump();
    socket.on('close', () => {
      clearTimeout(idle);
      if (interactive && process.stdin.isTTY) process.stdin.setRawMode(false);
      process.stdin.unpipe(socket);
      process.stdin.pause();
      resolve(0);
    });
    socket.on('error', () => undefined);
  });
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('agent-ctl.js');
if (isMain) {
  run(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      if (err instanceof RpcError) process.stderr.write(`agent-ctl: ${codeName(err.code)}: ${err.message}\n`);
      else process.stderr.write(`agent-ctl: ${(err as Error).message}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    },
  );
}
