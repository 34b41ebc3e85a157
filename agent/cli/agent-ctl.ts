// agent-ctl: talk to a Kata agent from the host (like kata-agent-ctl). This file parses the
// global options, picks the command and maps failures to exit codes; the commands live in
// verbs/, one file per area.
import { RpcError, codeName } from '../src/ttrpc/status';
import { type Command, type CtlIo, usageLine, UsageError } from './command';
import { AgentSession } from './session';
import { attachCommands } from './verbs/attach';
import { containerCommands } from './verbs/container';
import { genericCommands } from './verbs/generic';
import { guestCommands } from './verbs/guest';
import { networkCommands } from './verbs/network';
import { processCommands } from './verbs/process';
import { runCommands } from './verbs/run';
import { sandboxCommands } from './verbs/sandbox';

const GROUPS: Array<[title: string, commands: Command[]]> = [
  ['generic', genericCommands],
  ['sandbox', sandboxCommands],
  ['containers', [...containerCommands, ...runCommands]],
  ['processes (EXEC defaults to the init process)', processCommands],
  ['network', networkCommands],
  ['guest', guestCommands],
  ['raw vports', attachCommands],
];

const COMMANDS = GROUPS.flatMap(([, commands]) => commands);

const HEADER = `usage: agent-ctl [--addr ADDR] [--timeout SECONDS] COMMAND [ARGS]
  ADDR: unix:///path, unix://@name, vsock://CID:PORT, hvsock:///path/to/socket:PORT,
        serial:///path/to/qemu-chardev.sock   (default: $KATA_AGENT_ADDR)
  --timeout: deadline of each call (default 30); calls that wait on the guest (wait, read,
        run, oom-event) have none unless it is given
  Replies print as JSON with proto field names (64-bit integers as strings, enums by name).`;

function usage(commands: Array<[string, Command[]]> = GROUPS): string {
  const lines = [HEADER];
  for (const [title, group] of commands) {
    lines.push(`${title}:`);
    for (const cmd of group) lines.push(`  ${usageLine(cmd)}`, `      ${cmd.summary}`);
  }
  return lines.join('\n');
}

/** The command whose words start `args` (the longest such), and the arguments after them. */
function findCommand(args: string[]): { command: Command; argv: string[] } {
  let best: Command | undefined;
  for (const cmd of COMMANDS) {
    if (cmd.words.every((w, i) => args[i] === w) && (!best || cmd.words.length > best.words.length)) best = cmd;
  }
  if (best) return { command: best, argv: args.slice(best.words.length) };
  // An area word with a missing or wrong sub-command: list that area's commands.
  for (let depth = Math.min(args.length, 2); depth >= 1; depth--) {
    const prefix = args.slice(0, depth);
    const area = COMMANDS.filter((c) => c.words.length > depth && prefix.every((w, i) => c.words[i] === w));
    if (area.length > 0) {
      const what = args[depth] === undefined ? `missing ${prefix.join(' ')} command` : `unknown ${prefix.join(' ')} command "${args[depth]}"`;
      throw new UsageError(`${what}; one of:\n${area.map((c) => `  agent-ctl ${usageLine(c)}`).join('\n')}`);
    }
  }
  throw new UsageError(`unknown command "${args[0]}" (agent-ctl --help lists them)`);
}

interface GlobalOptions {
  addr: string | undefined;
  timeoutMs: number;
  explicitTimeout: boolean;
  help: boolean;
  rest: string[];
}

/** Options before the command; the command's own options (rm --timeout) come after it. */
function parseGlobalOptions(argv: string[]): GlobalOptions {
  const opts: GlobalOptions = { addr: process.env.KATA_AGENT_ADDR, timeoutMs: 30_000, explicitTimeout: false, help: false, rest: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const [name, inline] = argv[i]!.startsWith('--') && argv[i]!.includes('=') ? argv[i]!.split(/=(.*)/s, 2) : [argv[i]!, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    if (name === '--addr') opts.addr = value();
    else if (name === '--timeout') {
      const seconds = Number(value());
      if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError('--timeout needs a positive number of seconds');
      opts.timeoutMs = seconds * 1000;
      opts.explicitTimeout = true;
    } else if (name === '-h' || name === '--help') opts.help = true;
    else if (name!.startsWith('-')) throw new UsageError(`unknown option "${name}" before the command (agent-ctl --help lists them)`);
    else break;
  }
  opts.rest = argv.slice(i);
  return opts;
}

function processIo(): CtlIo {
  return {
    stdout: (chunk) => void process.stdout.write(chunk),
    stderr: (chunk) => void process.stderr.write(chunk),
    stdin: process.stdin,
  };
}

/**
 * Runs one agent-ctl command line and returns the exit code: 0 done, 1 the call failed,
 * 2 wrong usage; `run` returns the container's exit code. Errors go to io.stderr.
 */
export async function run(argv: string[], io: Partial<CtlIo> = {}): Promise<number> {
  const ctlIo: CtlIo = { ...processIo(), ...io };
  let session: AgentSession | undefined;
  try {
    const global = parseGlobalOptions(argv);
    if (global.rest[0] === 'help') global.help = true;
    if (global.help || global.rest.length === 0) {
      if (!global.help) throw new UsageError(usage());
      ctlIo.stdout(`${usage()}\n`);
      return 0;
    }
    const { command, argv: commandArgv } = findCommand(global.rest);
    const own = commandArgv.indexOf('--') < 0 ? commandArgv : commandArgv.slice(0, commandArgv.indexOf('--'));
    if (command.words[0] !== 'call' && (own.includes('-h') || own.includes('--help'))) {
      ctlIo.stdout(`usage: agent-ctl ${usageLine(command)}\n  ${command.summary}\n`);
      return 0;
    }
    session = new AgentSession({ addr: global.addr, timeoutMs: global.timeoutMs, explicitTimeout: global.explicitTimeout });
    return await command.run({ argv: commandArgv, io: ctlIo, session, addr: global.addr, timeoutMs: global.timeoutMs });
  } catch (err) {
    if (err instanceof RpcError) ctlIo.stderr(`agent-ctl: ${codeName(err.code)}: ${err.message}\n`);
    else ctlIo.stderr(`agent-ctl: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  } finally {
    session?.close();
  }
}

// By the script's name, not import.meta.url: in any bundle that includes this file (tests,
// tools) import.meta.url is that bundle's own, and run() must not start on import there.
const isMain = /(^|\/)agent-ctl(\.[cm]?[jt]s)?$/.test(process.argv[1] ?? '');
if (isMain) {
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // stdin may still be open (a --stdin pump whose process exited): do not wait for it.
    process.stdin.destroy();
  });
}
