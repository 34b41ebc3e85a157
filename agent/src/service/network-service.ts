// AgentService handlers for the guest network: interfaces, routes, ARP neighbours (rtnetlink,
// network/), and iptables rules (iptables-save / -restore). Thin: unwrap the request, call the
// domain, wrap the answer. The domain throws RpcErrors naming what was wrong or half-applied.
import type { Logger } from '../log/logger';
import { restoreIptables, saveIptables } from '../network/iptables';
import { GuestNetwork } from '../network/network';
import { Code, RpcError } from '../ttrpc/status';
import type { AgentServiceImpl } from './typed';

export interface NetworkServiceDeps {
  log: Logger;
  /** How long UpdateInterface waits for a hot-plugged NIC (agent.hotplug_timeout; default 3 s). */
  hotplugTimeoutMs?: number;
  /** Defaults to one for the agent's own network namespace, opened on first use. */
  network?: GuestNetwork;
}

/** The handlers to pass to startAgent as (part of) `agentImpl`. */
export function networkServiceHandlers(deps: NetworkServiceDeps) {
  const log = deps.log.child({ subsystem: 'network' });
  let network = deps.network;
  const net = (): GuestNetwork => (network ??= new GuestNetwork({ log, hotplugTimeoutMs: deps.hotplugTimeoutMs }));
  const empty = {};
  return {
    UpdateInterface: (r) => net().updateInterface(r.interface),
    UpdateRoutes: async (r) => {
      if (!r.routes) throw new RpcError(Code.INVALID_ARGUMENT, 'update routes: the request carries no routes');
      return { Routes: await net().updateRoutes(r.routes.Routes) };
    },
    ListInterfaces: async () => ({ Interfaces: await net().listInterfaces() }),
    ListRoutes: async () => ({ Routes: await net().listRoutes() }),
    AddARPNeighbors: async (r) => {
      if (!r.neighbors) throw new RpcError(Code.INVALID_ARGUMENT, 'add ARP neighbours: the request carries no neighbours');
      await net().addArpNeighbors(r.neighbors.ARPNeighbors);
      return empty;
    },
    GetIPTables: async (r) => ({ data: await saveIptables(r.is_ipv6 === true) }),
    SetIPTables: async (r) => ({ data: await restoreIptables(r.is_ipv6 === true, Buffer.from(r.data ?? [])) }),
  } satisfies AgentServiceImpl;
}
