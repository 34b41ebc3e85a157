// Raw byte streams beside ttRPC: the agent's log vport (read only) and the debug console
// (both ways). ADDR names the vport, e.g. vsock://3:1025 for logs, vsock://3:1026 for the console.
import { dial } from '../../src/transport/dial';
import { type Command, type CommandContext, parseCommandArgs, takePositionals, UsageError } from '../command';

async function attach(ctx: CommandContext, interactive: boolean, follow: boolean): Promise<number> {
  if (!ctx.addr) throw new UsageError('no address: give --addr');
  const socket = await dial(ctx.addr, { timeoutMs: Math.min(ctx.timeoutMs, 10_000) });
  const stdin = ctx.io.stdin as NodeJS.ReadStream;
  const rawTty = interactive && stdin === process.stdin && process.stdin.isTTY;
  if (interactive) {
    if (rawTty) process.stdin.setRawMode(true);
    stdin.pipe(socket);
  }
  return new Promise((resolve) => {
    // Without --follow, stop once the backlog has been read (the agent keeps the stream open).
    let idle: NodeJS.Timeout | undefined;
    const bump = () => {
      if (follow) return;
      clearTimeout(idle);
      idle = setTimeout(() => socket.destroy(), 500);
    };
    socket.on('data', (chunk: Buffer) => {
      ctx.io.stdout(chunk);
      bump();
    });
    bump();
    socket.on('close', () => {
      clearTimeout(idle);
      if (rawTty) process.stdin.setRawMode(false);
      if (interactive) {
        stdin.unpipe(socket);
        stdin.pause();
      }
      resolve(0);
    });
    socket.on('error', () => undefined);
  });
}

const logs: Command = {
  words: ['logs'],
  synopsis: '[--follow]',
  summary: "read the agent's log vport (ADDR e.g. vsock://3:1025)",
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { follow: { type: 'boolean', short: 'f' } });
    takePositionals(this, positionals, []);
    return attach(ctx, false, values.follow === true);
  },
};

const consoleCommand: Command = {
  words: ['console'],
  synopsis: '',
  summary: 'attach to the debug console vport (ADDR e.g. vsock://3:1026)',
  async run(ctx) {
    takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, []);
    return attach(ctx, true, true);
  },
};

export const attachCommands: Command[] = [logs, consoleCommand];
