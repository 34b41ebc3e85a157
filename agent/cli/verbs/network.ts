// net: the guest's interfaces, routes, ARP neighbours and iptables rules. Update commands take
// JSON in the agent's proto-JSON form (types.Interface, types.Route, types.ARPNeighbor).
import { type Command, parseCommandArgs, printJson, takePositionals, UsageError } from '../command';
import type { ARPNeighborInit, InterfaceInit, RouteInit } from '../../src/proto/messages.generated';
import { readJsonFile, readSource } from '../inputs';

type Obj = Record<string, unknown>;

function list(word: string, method: string, summary: string): Command {
  return {
    words: ['net', word],
    synopsis: '',
    summary,
    async run(ctx) {
      takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, []);
      printJson(ctx.io, await ctx.session.requestJson(method));
      return 0;
    },
  };
}

/**
 * The list a file holds, in any of the shapes people write: a bare array, the list message
 * ({"Routes": [...]}) or the whole request ({"routes": {"Routes": [...]}}). Its items are
 * typed as the messages they should be; encodeMessage checks them and names a bad field.
 */
function listFrom<T>(value: Obj | unknown[], requestKey: string, listKey: string): T[] {
  if (Array.isArray(value)) return value as T[];
  const inner = (value[requestKey] as Obj | undefined) ?? value;
  const items = inner[listKey];
  if (!Array.isArray(items)) throw new UsageError(`expected a JSON array, {"${listKey}": [...]} or {"${requestKey}": {"${listKey}": [...]}}`);
  return items as T[];
}

const updateInterface: Command = {
  words: ['net', 'update-interface'],
  synopsis: 'FILE|-',
  summary: 'UpdateInterface from a JSON types.Interface (or the whole request); prints the result',
  async run(ctx) {
    const [file] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, ['FILE']);
    const value = await readJsonFile(file!, ctx.io.stdin, 'interface');
    if (Array.isArray(value)) throw new UsageError('net update-interface: expected one interface object, not an array');
    const iface = ('interface' in value ? value.interface : value) as InterfaceInit;
    printJson(ctx.io, await ctx.session.requestJson('UpdateInterface', { interface: iface }));
    return 0;
  },
};

const updateRoutes: Command = {
  words: ['net', 'update-routes'],
  synopsis: 'FILE|-',
  summary: 'UpdateRoutes: replace the routes with a JSON list of types.Route; prints the result',
  async run(ctx) {
    const [file] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, ['FILE']);
    const routes = listFrom<RouteInit>(await readJsonFile(file!, ctx.io.stdin, 'routes'), 'routes', 'Routes');
    printJson(ctx.io, await ctx.session.requestJson('UpdateRoutes', { routes: { Routes: routes } }));
    return 0;
  },
};

const arp: Command = {
  words: ['net', 'arp'],
  synopsis: 'FILE|-',
  summary: 'AddARPNeighbors from a JSON list of types.ARPNeighbor',
  async run(ctx) {
    const [file] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, ['FILE']);
    const neighbours = listFrom<ARPNeighborInit>(await readJsonFile(file!, ctx.io.stdin, 'neighbours'), 'neighbors', 'ARPNeighbors');
    await ctx.session.request('AddARPNeighbors', { neighbors: { ARPNeighbors: neighbours } });
    return 0;
  },
};

const iptablesGet: Command = {
  words: ['net', 'iptables', 'get'],
  synopsis: '[--ipv6]',
  summary: 'GetIPTables: the guest\'s iptables-save output',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { ipv6: { type: 'boolean', short: '6' } });
    takePositionals(this, positionals, []);
    const { data } = await ctx.session.request('GetIPTables', { is_ipv6: values.ipv6 === true });
    ctx.io.stdout(data);
    return 0;
  },
};

const iptablesSet: Command = {
  words: ['net', 'iptables', 'set'],
  synopsis: 'FILE|- [--ipv6]',
  summary: 'SetIPTables: iptables-restore input from FILE; prints its output',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { ipv6: { type: 'boolean', short: '6' } });
    const [file] = takePositionals(this, positionals, ['FILE']);
    const rules = await readSource(file!, ctx.io.stdin);
    const { data } = await ctx.session.request('SetIPTables', { is_ipv6: values.ipv6 === true, data: rules });
    ctx.io.stdout(data);
    return 0;
  },
};

export const networkCommands: Command[] = [
  list('interfaces', 'ListInterfaces', 'ListInterfaces as JSON'),
  list('routes', 'ListRoutes', 'ListRoutes as JSON'),
  updateInterface,
  updateRoutes,
  arp,
  iptablesGet,
  iptablesSet,
];
