// The guest network as the agent's services see it: one rtnetlink client for the agent's
// network namespace, changes applied one at a time (reads do not wait for them).
import type { Logger } from '../log/logger';
import { bringLoopbackUp, listInterfaces, updateInterface } from './interfaces';
import { RtnetlinkClient } from './netlink/client';
import { addArpNeighbors } from './neighbours';
import { listRouteTable, updateRoutes } from './routes';
import type { PbARPNeighbor, PbInterface, PbRoute } from './types';

export class GuestNetwork {
  readonly #log: Logger;
  readonly #nl: RtnetlinkClient;
  readonly #hotplugTimeoutMs: number;
  #changes: Promise<unknown> = Promise.resolve();

  constructor(opts: { log: Logger; client?: RtnetlinkClient; hotplugTimeoutMs?: number }) {
    this.#log = opts.log;
    this.#hotplugTimeoutMs = opts.hotplugTimeoutMs ?? 3000;
    this.#nl = opts.client ?? new RtnetlinkClient();
  }

  updateInterface(iface: PbInterface | null | undefined): Promise<PbInterface> {
    return this.#serial(() => updateInterface(this.#nl, this.#log, iface, { hotplugTimeoutMs: this.#hotplugTimeoutMs }));
  }

  updateRoutes(routes: PbRoute[]): Promise<PbRoute[]> {
    return this.#serial(() => updateRoutes(this.#nl, this.#log, routes));
  }

  addArpNeighbors(neighbours: PbARPNeighbor[]): Promise<void> {
    return this.#serial(() => addArpNeighbors(this.#nl, this.#log, neighbours));
  }

  bringLoopbackUp(): Promise<void> {
    return this.#serial(() => bringLoopbackUp(this.#nl));
  }

  // Reads see every change asked for before them: a ListRoutes after an UpdateRoutes from
  // another connection, or a ListInterfaces while init is still bringing lo up.
  listInterfaces(): Promise<PbInterface[]> {
    return this.#changes.then(() => listInterfaces(this.#nl));
  }

  listRoutes(): Promise<PbRoute[]> {
    return this.#changes.then(() => listRouteTable(this.#nl));
  }

  close(): void {
    this.#nl.close();
  }

  #serial<T>(change: () => Promise<T>): Promise<T> {
    const result = this.#changes.then(change, change);
    this.#changes = result.catch(() => undefined);
    return result;
  }
}
