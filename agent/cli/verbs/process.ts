// Processes of a container: exec, wait, kill, and their standard streams. EXEC defaults to
// the container's init process (its exec id is the container id).
import { randomBytes } from 'node:crypto';
import { type Command, parseCommandArgs, parseCount, printJson, takePositionals, UsageError } from '../command';
import { readSource } from '../inputs';
import { processSpec } from '../oci-spec';
import { parseSignal, SIGKILL, SIGTERM } from '../signals';
import { attachAndWait, drainOutput, pumpInput, writeInput } from '../stdio';

/** "UID" or "UID:GID". */
function parseUser(cmd: Command, text: string | undefined): { uid?: number; gid?: number } {
  if (text === undefined) return {};
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) throw new UsageError(`${cmd.words.join(' ')}: --user is UID or UID:GID, not "${text}"`);
  return { uid: Number(m[1]), gid: m[2] === undefined ? Number(m[1]) : Number(m[2]) };
}

const exec: Command = {
  words: ['exec'],
  synopsis: 'CID [--exec-id E] [--tty] [--env K=V]... [--cwd DIR] [--user UID[:GID]] [--wait] [--stdin] -- CMD ARGS...',
  summary: 'ExecProcess; prints the exec id. --wait streams its output and exits with its status (--stdin feeds it ours)',
  async run(ctx) {
    const { values, positionals, rest } = parseCommandArgs(this, ctx.argv, {
      'exec-id': { type: 'string' },
      tty: { type: 'boolean', short: 't' },
      env: { type: 'string', multiple: true, short: 'e' },
      cwd: { type: 'string' },
      user: { type: 'string', short: 'u' },
      wait: { type: 'boolean', short: 'w' },
      stdin: { type: 'boolean', short: 'i' },
    });
    const [cid] = takePositionals(this, positionals, ['CID']);
    if (!rest?.length) throw new UsageError('exec: give the command after "--", e.g. exec CID -- sh -c "echo hi"');
    if (values.stdin && !values.wait) throw new UsageError('exec: --stdin goes with --wait');
    const execId = values['exec-id'] ?? `exec-${randomBytes(6).toString('hex')}`;
    const terminal = values.tty === true;
    const process = processSpec({ args: rest, terminal, env: values.env, cwd: values.cwd, ...parseUser(this, values.user) });
    await ctx.session.request('ExecProcess', { container_id: cid, exec_id: execId, process });
    if (!values.wait) {
      ctx.io.stdout(`${execId}\n`);
      return 0;
    }
    return attachAndWait(ctx.session, cid!, execId, ctx.io, { terminal, input: values.stdin ? ctx.io.stdin : undefined });
  },
};

const wait: Command = {
  words: ['wait'],
  synopsis: 'CID [EXEC]',
  summary: 'WaitProcess: prints {"status": N} (exit code, or 128+N when killed by signal N)',
  async run(ctx) {
    const [cid, execId = ''] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, ['CID'], ['EXEC']);
    const { status } = await ctx.session.request('WaitProcess', { container_id: cid, exec_id: execId }, { blocking: true });
    printJson(ctx.io, { status });
    return 0;
  },
};

const kill: Command = {
  words: ['kill'],
  synopsis: 'CID [EXEC] [--signal N|NAME] [--all]',
  summary: 'SignalProcess (default TERM); --all: SIGKILL to every process of the container',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { signal: { type: 'string', short: 's' }, all: { type: 'boolean', short: 'a' } });
    const [cid, execId] = takePositionals(this, positionals, ['CID'], ['EXEC']);
    if (values.all) {
      if (execId !== undefined) throw new UsageError('kill: --all takes no EXEC (it kills every process of the container)');
      const signal = values.signal === undefined ? SIGKILL : parseSignal(values.signal);
      // The agent kills the whole container only for SIGKILL with an empty exec id.
      if (signal !== SIGKILL) throw new UsageError('kill: --all sends SIGKILL only');
      await ctx.session.request('SignalProcess', { container_id: cid, exec_id: '', signal });
      return 0;
    }
    const signal = values.signal === undefined ? SIGTERM : parseSignal(values.signal);
    // The init process by its exec id (the container id), so that SIGKILL hits it alone.
    await ctx.session.request('SignalProcess', { container_id: cid, exec_id: execId ?? cid, signal });
    return 0;
  },
};

const read: Command = {
  words: ['read'],
  synopsis: 'CID [EXEC] [--stderr]',
  summary: 'ReadStdout (or ReadStderr) until EOF, the bytes as they are on stdout',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { stderr: { type: 'boolean' } });
    const [cid, execId = ''] = takePositionals(this, positionals, ['CID'], ['EXEC']);
    await drainOutput(ctx.session, cid!, execId, values.stderr ? 'stderr' : 'stdout', (chunk) => ctx.io.stdout(chunk));
    return 0;
  },
};

const writeStdin: Command = {
  words: ['write-stdin'],
  synopsis: 'CID [EXEC] [--data TEXT | --file FILE] [--close]',
  summary: 'WriteStdin: TEXT, FILE, or our standard input to EOF; --close closes its stdin after',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { data: { type: 'string' }, file: { type: 'string' }, close: { type: 'boolean' } });
    const [cid, execId = ''] = takePositionals(this, positionals, ['CID'], ['EXEC']);
    if (values.data !== undefined && values.file !== undefined) throw new UsageError('write-stdin: give --data or --file, not both');
    if (values.data === undefined && values.file === undefined) {
      if (values.close) await pumpInput(ctx.session, cid!, execId, ctx.io.stdin);
      else await writeInput(ctx.session, cid!, execId, await readSource('-', ctx.io.stdin));
      return 0;
    }
    const data = values.data !== undefined ? Buffer.from(values.data) : await readSource(values.file!, ctx.io.stdin);
    await writeInput(ctx.session, cid!, execId, data);
    if (values.close) await ctx.session.request('CloseStdin', { container_id: cid, exec_id: execId });
    return 0;
  },
};

const closeStdin: Command = {
  words: ['close-stdin'],
  synopsis: 'CID [EXEC]',
  summary: 'CloseStdin: the process reads EOF',
  async run(ctx) {
    const [cid, execId = ''] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, ['CID'], ['EXEC']);
    await ctx.session.request('CloseStdin', { container_id: cid, exec_id: execId });
    return 0;
  },
};

const resize: Command = {
  words: ['resize'],
  synopsis: 'CID [EXEC] --rows R --cols C',
  summary: "TtyWinResize of a process's terminal",
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { rows: { type: 'string' }, cols: { type: 'string' } });
    const [cid, execId = ''] = takePositionals(this, positionals, ['CID'], ['EXEC']);
    const row = parseCount(this, '--rows', values.rows);
    const column = parseCount(this, '--cols', values.cols);
    await ctx.session.request('TtyWinResize', { container_id: cid, exec_id: execId, row, column });
    return 0;
  },
};

export const processCommands: Command[] = [exec, wait, kill, read, writeStdin, closeStdin, resize];
