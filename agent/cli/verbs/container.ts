// container create / start / rm / pause / resume / stats / update.
import { type Command, type CommandContext, parseCommandArgs, parseCount, printJson, takePositionals, UsageError } from '../command';
import { buildCreateRequest, COMMAND_SYNOPSIS, CREATE_OPTIONS, CREATE_SYNOPSIS } from '../container-request';
import type { LinuxCPUInit, LinuxResourcesInit } from '../../src/proto/messages.generated';
import { readJsonFile } from '../inputs';
import { ociJsonToResources } from '../oci-spec';

const create: Command = {
  words: ['container', 'create'],
  synopsis: `--id CID ${CREATE_SYNOPSIS} ${COMMAND_SYNOPSIS}`,
  summary: 'CreateContainer from DIR/config.json (or a default spec running CMD); the rootfs from the bundle or a storage',
  async run(ctx) {
    const { values, positionals, rest } = parseCommandArgs(this, ctx.argv, { id: { type: 'string' }, ...CREATE_OPTIONS });
    takePositionals(this, positionals, []);
    if (!values.id) throw new UsageError(`container create: --id CID is required\nusage: agent-ctl container create ${this.synopsis}`);
    await ctx.session.request('CreateContainer', buildCreateRequest(values.id, values, rest, ctx.io));
    return 0;
  },
};

/** A command taking just a container id. */
function byId(word: string, method: string, summary: string, print = false): Command {
  return {
    words: ['container', word],
    synopsis: 'CID',
    summary,
    async run(ctx) {
      const [cid] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, ['CID']);
      const reply = await ctx.session.requestJson(method, { container_id: cid });
      if (print) printJson(ctx.io, reply);
      return 0;
    },
  };
}

const remove: Command = {
  words: ['container', 'rm'],
  synopsis: 'CID [--timeout SECONDS]',
  summary: 'RemoveContainer: kill, wait up to SECONDS (0 = no limit), unmount its storages, delete',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { timeout: { type: 'string' } });
    const [cid] = takePositionals(this, positionals, ['CID']);
    const timeout = parseCount(this, '--timeout', values.timeout, 0);
    await ctx.session.request('RemoveContainer', { container_id: cid, timeout }, { blocking: timeout === 0 });
    return 0;
  },
};

/** Resource flags as grpc.LinuxResources (Go field names, 64-bit values as strings). */
function resourcesFromFlags(cmd: Command, v: Record<string, string | undefined>): LinuxResourcesInit {
  const int = (name: string, signed = false): string | undefined => {
    const text = v[name];
    if (text === undefined) return undefined;
    if (!(signed ? /^-?\d+$/ : /^\d+$/).test(text)) throw new UsageError(`${cmd.words.join(' ')}: --${name} must be an integer, not "${text}"`);
    return text;
  };
  const out: LinuxResourcesInit = {};
  const memory = int('memory', true);
  if (memory !== undefined) out.Memory = { Limit: memory };
  const cpu: LinuxCPUInit = {};
  if (int('cpu-quota', true) !== undefined) cpu.Quota = v['cpu-quota'];
  if (int('cpu-period') !== undefined) cpu.Period = v['cpu-period'];
  if (int('cpu-shares') !== undefined) cpu.Shares = v['cpu-shares'];
  if (v.cpuset !== undefined) cpu.Cpus = v.cpuset;
  if (Object.keys(cpu).length > 0) out.CPU = cpu;
  const pids = int('pids-limit', true);
  if (pids !== undefined) out.Pids = { Limit: pids };
  return out;
}

const update: Command = {
  words: ['container', 'update'],
  synopsis: 'CID [--resources FILE] [--memory BYTES] [--cpu-quota N] [--cpu-period N] [--cpu-shares N] [--cpuset CPUS] [--pids-limit N]',
  summary: 'UpdateContainer with OCI linux.resources (FILE in config.json form) or the flags',
  async run(ctx: CommandContext) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      resources: { type: 'string' },
      memory: { type: 'string' },
      'cpu-quota': { type: 'string' },
      'cpu-period': { type: 'string' },
      'cpu-shares': { type: 'string' },
      cpuset: { type: 'string' },
      'pids-limit': { type: 'string' },
    });
    const [cid] = takePositionals(this, positionals, ['CID']);
    let resources: LinuxResourcesInit = {};
    if (values.resources) {
      const { spec, dropped } = ociJsonToResources(await readJsonFile(values.resources, ctx.io.stdin, 'resources'));
      if (dropped.length > 0) ctx.io.stderr(`agent-ctl: not carried by Kata's LinuxResources, left out: ${dropped.join(', ')}\n`);
      resources = spec;
    }
    const flags = resourcesFromFlags(this, values);
    // A flag changes its figure of the file's section and keeps the others.
    if (flags.Memory) resources = { ...resources, Memory: { ...resources.Memory, ...flags.Memory } };
    if (flags.CPU) resources = { ...resources, CPU: { ...resources.CPU, ...flags.CPU } };
    if (flags.Pids) resources = { ...resources, Pids: { ...resources.Pids, ...flags.Pids } };
    if (Object.keys(resources).length === 0) throw new UsageError('container update: nothing to change: give --resources FILE or a resource flag');
    await ctx.session.request('UpdateContainer', { container_id: cid, resources });
    return 0;
  },
};

export const containerCommands: Command[] = [
  create,
  byId('start', 'StartContainer', 'StartContainer: run the init process created by create'),
  remove,
  byId('pause', 'PauseContainer', 'PauseContainer (freezes its cgroup)'),
  byId('resume', 'ResumeContainer', 'ResumeContainer'),
  byId('stats', 'StatsContainer', 'StatsContainer: cgroup and network figures as JSON', true),
  update,
];
