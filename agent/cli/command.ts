// What every agent-ctl command is and gets: its words, its usage line, and a context holding
// the command's own arguments, the output sink and the (lazily connected) agent session.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { AgentSession } from './session';

/** Wrong use of the CLI (exit code 2), as opposed to a failure of the call itself (1). */
export class UsageError extends Error {}

/** Where a command writes: raw bytes (a container's output) or text. */
export interface CtlIo {
  stdout(chunk: string | Uint8Array): void;
  stderr(chunk: string | Uint8Array): void;
  stdin: NodeJS.ReadableStream;
}

export interface CommandContext {
  /** The arguments after the command's words. */
  argv: string[];
  io: CtlIo;
  session: AgentSession;
  /** The agent address (--addr or $KATA_AGENT_ADDR), for commands that dial it themselves. */
  addr: string | undefined;
  timeoutMs: number;
}

export interface Command {
  /** The words that select it: ['container', 'create'], ['exec']. */
  words: string[];
  /** Arguments after the words, as the usage text shows them. */
  synopsis: string;
  summary: string;
  run(ctx: CommandContext): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs<V> {
  values: V;
  /** Positional arguments before a "--". */
  positionals: string[];
  /** Everything after the first "--" (a command line to run), undefined without "--". */
  rest: string[] | undefined;
}

/**
 * Parses a command's options strictly (unknown options are usage errors naming the command).
 * A "--" ends the options: what follows is returned as `rest`, untouched.
 */
export function parseCommandArgs<const O extends Options>(cmd: Command, argv: string[], options: O) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    // Node's text goes on about '--' for positionals that start with '-': keep the first sentence.
    const reason = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${cmd.words.join(' ')}: ${reason}\nusage: agent-ctl ${usageLine(cmd)}`);
  }
  const terminator = parsed.tokens.find((t) => t.kind === 'option-terminator')?.index;
  const positionals = parsed.tokens.filter((t) => t.kind === 'positional' && (terminator === undefined || t.index < terminator)).map((t) => (t as { value: string }).value);
  const rest = terminator === undefined ? undefined : argv.slice(terminator + 1);
  return { values: parsed.values, positionals, rest };
}

export function usageLine(cmd: Command): string {
  return [...cmd.words, cmd.synopsis].filter(Boolean).join(' ');
}

/** Positional arguments by name: the required ones must be there, no more than all of them. */
export function takePositionals(cmd: Command, positionals: string[], required: string[], optional: string[] = []): string[] {
  if (positionals.length < required.length) {
    const missing = required.slice(positionals.length).join(', ');
    throw new UsageError(`${cmd.words.join(' ')}: missing ${missing}\nusage: agent-ctl ${usageLine(cmd)}`);
  }
  if (positionals.length > required.length + optional.length) {
    throw new UsageError(`${cmd.words.join(' ')}: unexpected argument "${positionals[required.length + optional.length]}"\nusage: agent-ctl ${usageLine(cmd)}`);
  }
  return positionals;
}

/** A non-negative integer option or argument, or a usage error naming it. */
export function parseCount(cmd: Command, name: string, text: string | undefined, fallback?: number): number {
  if (text === undefined) {
    if (fallback === undefined) throw new UsageError(`${cmd.words.join(' ')}: ${name} is required\nusage: agent-ctl ${usageLine(cmd)}`);
    return fallback;
  }
  if (!/^\d+$/.test(text)) throw new UsageError(`${cmd.words.join(' ')}: ${name} must be a non-negative integer, not "${text}"`);
  return Number(text);
}

/** Prints a reply as indented JSON. */
export function printJson(io: CtlIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
