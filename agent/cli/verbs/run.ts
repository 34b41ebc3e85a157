// run: create + start a container, stream its output until EOF, wait, remove it, and exit
// with its exit code. The one command a script needs to run something in the guest.
import { randomBytes } from 'node:crypto';
import { type Command, parseCommandArgs, takePositionals } from '../command';
import { buildCreateRequest, COMMAND_SYNOPSIS, CREATE_OPTIONS, CREATE_SYNOPSIS } from '../container-request';
import { attachAndWait } from '../stdio';

const run: Command = {
  words: ['run'],
  synopsis: `[--id CID] ${CREATE_SYNOPSIS} [--stdin] [--keep] ${COMMAND_SYNOPSIS}`,
  summary: 'create, start, stream stdout/stderr, wait, rm (unless --keep); exits with the container\'s exit code',
  async run(ctx) {
    const { values, positionals, rest } = parseCommandArgs(this, ctx.argv, {
      id: { type: 'string' },
      stdin: { type: 'boolean', short: 'i' },
      keep: { type: 'boolean' },
      ...CREATE_OPTIONS,
    });
    takePositionals(this, positionals, []);
    const cid = values.id ?? `run-${randomBytes(6).toString('hex')}`;
    const request = buildCreateRequest(cid, values, rest, ctx.io);
    const terminal = Boolean((request.OCI as { Process?: { Terminal?: boolean } }).Process?.Terminal);
    await ctx.session.request('CreateContainer', request);
    const remove = () => ctx.session.request('RemoveContainer', { container_id: cid, timeout: 10 }, { blocking: true });
    let status: number;
    try {
      await ctx.session.request('StartContainer', { container_id: cid });
      status = await attachAndWait(ctx.session, cid, cid, ctx.io, { terminal, input: values.stdin ? ctx.io.stdin : undefined });
    } catch (err) {
      // A failed run leaves no container behind; the failure is what gets reported.
      if (!values.keep) await remove().catch(() => undefined);
      throw err;
    }
    if (!values.keep) await remove();
    return status;
  },
};

export const runCommands: Command[] = [run];
