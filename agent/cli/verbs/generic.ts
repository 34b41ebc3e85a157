// The generic commands: health, version, the method list, and `call` for any method with a
// proto-JSON request.
import { resolveMethod } from '../../client/agent-client';
import { AGENT_SERVICE, serviceMethods } from '../../src/proto/schema';
import { type Command, parseCommandArgs, printJson, takePositionals, UsageError } from '../command';
import { readJsonArg } from '../inputs';

const check: Command = {
  words: ['check'],
  synopsis: '',
  summary: 'grpc.Health/Check',
  async run(ctx) {
    takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, []);
    printJson(ctx.io, await ctx.session.requestJson('Health/Check'));
    return 0;
  },
};

const version: Command = {
  words: ['version'],
  synopsis: '',
  summary: 'grpc.Health/Version',
  async run(ctx) {
    takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, []);
    printJson(ctx.io, await ctx.session.requestJson('Health/Version'));
    return 0;
  },
};

const call: Command = {
  words: ['call'],
  synopsis: 'METHOD [JSON|@FILE|-]',
  summary: 'any method (CreateContainer, Health/Check ...) with a proto-JSON request; prints the reply as JSON',
  async run(ctx) {
    // Not parsed as options: the JSON text is taken as it is.
    const [method, json, extra] = ctx.argv;
    if (!method) throw new UsageError('call needs a METHOD');
    if (extra !== undefined) throw new UsageError(`call: unexpected argument "${extra}"`);
    resolveMethod(method); // unknown names fail before connecting
    const request = await readJsonArg(json, ctx.io.stdin);
    const client = await ctx.session.client();
    printJson(ctx.io, await client.requestJson(method, request, { timeoutMs: ctx.timeoutMs }));
    return 0;
  },
};

const methods: Command = {
  words: ['methods'],
  synopsis: '',
  summary: 'list the AgentService methods',
  async run(ctx) {
    for (const m of serviceMethods(AGENT_SERVICE)) ctx.io.stdout(`${m.method}\t${m.requestType.name} -> ${m.responseType.name}\n`);
    return 0;
  },
};

export const genericCommands: Command[] = [check, version, call, methods];
