// UpdateRoutes and ListRoutes with Kata's semantics: the main table's routes that someone set
// (not the kernel's own, not on loopback, only those with an output link) are removed, then
// the requested ones are added, routes without a gateway first so that the gateways are
// reachable when their routes arrive. A route that already exists counts as added.
import type { Logger } from '../log/logger';
import { familyName, formatIp, parseCidr, parseIp, type IpAddress } from './addresses';
import { invalid, notFound, partiallyApplied } from './errors';
import type { RtnetlinkClient } from './netlink/client';
import { AF_INET, AF_INET6, IFF_LOOPBACK, RT_TABLE_MAIN, RTM_F_CLONED, RTNH_F_ONLINK, RTPROT_KERNEL } from './netlink/constants';
import type { Link } from './netlink/link';
import { addRoute, deleteRoute, listLinks, listRoutes, type Dumped, type RouteSpec } from './netlink/operations';
import type { Route } from './netlink/route';
import type { PbRoute } from './types';

/** What a caller may ask for in Route.flags: the kernel owns the other next-hop bits (dead, linkdown...). */
const SETTABLE_ROUTE_FLAGS = RTNH_F_ONLINK;
/** rtm_flags' low byte holds the RTNH_F_* next-hop flags; the RTM_F_* bits above are dump details. */
const NEXTHOP_FLAGS = 0xff;

interface PlannedRoute extends RouteSpec {
  text: string;
}

function describeRoute(r: PbRoute): string {
  const parts = [r.dest || 'default'];
  if (r.gateway) parts.push(`via ${r.gateway}`);
  if (r.device) parts.push(`dev ${r.device}`);
  if (r.source) parts.push(`src ${r.source}`);
  return parts.join(' ');
}

function planRoute(r: PbRoute, i: number, links: Link[]): PlannedRoute {
  const text = describeRoute(r);
  const where = `update routes: Routes[${i}] (${text})`;
  const dest = r.dest ? parseCidr(r.dest) : undefined;
  if (r.dest && !dest) throw invalid(`${where}: bad destination '${r.dest}' (want a CIDR such as 10.0.0.0/24)`);
  const gateway = r.gateway ? parseIp(r.gateway) : undefined;
  if (r.gateway && !gateway) throw invalid(`${where}: bad gateway address '${r.gateway}'`);
  // The source is the preferred source address; Kata's runtime may send it with a prefix length.
  const source = r.source ? parseCidr(r.source) : undefined;
  if (r.source && !source) throw invalid(`${where}: bad source address '${r.source}'`);
  const given = [dest, gateway, source].filter((x): x is IpAddress => x !== undefined);
  // family is an enum whose zero value is v4: addresses decide, the field only when there are none.
  const family = given[0]?.family ?? (r.family === 'v6' ? AF_INET6 : AF_INET);
  if (given.some((x) => x.family !== family)) throw invalid(`${where}: mixes IPv4 and IPv6 addresses`);
  if (r.family === 'v6' && family !== AF_INET6) throw invalid(`${where}: family says v6 but the addresses are IPv4`);
  if (!r.device) throw invalid(`${where}: no device`);
  const link = links.find((l) => l.name === r.device);
  if (!link) throw notFound(`${where}: no interface named '${r.device}'`);
  if (!Number.isInteger(r.scope) || r.scope < 0 || r.scope > 255) throw invalid(`${where}: bad scope ${r.scope}`);
  const flags = r.flags ?? 0;
  if (flags & ~SETTABLE_ROUTE_FLAGS) throw invalid(`${where}: flags 0x${flags.toString(16)} (only RTNH_F_ONLINK, 0x4, can be set)`);
  return {
    text,
    family,
    dst: dest?.bytes,
    dstLength: dest?.prefixLength ?? 0,
    gateway: gateway?.bytes,
    prefsrc: source?.bytes,
    oif: link.index,
    scope: r.scope,
    flags,
  };
}

async function mainTableRoutes(nl: RtnetlinkClient): Promise<Dumped<Route>[]> {
  const routes = [...(await listRoutes(nl, AF_INET)), ...(await listRoutes(nl, AF_INET6))];
  return routes.filter((r) => r.table === RT_TABLE_MAIN && !(r.flags & RTM_F_CLONED));
}

export async function updateRoutes(nl: RtnetlinkClient, log: Logger, requested: PbRoute[]): Promise<PbRoute[]> {
  const links = await listLinks(nl);
  const planned = requested.map((r, i) => planRoute(r, i, links));
  const byIndex = new Map(links.map((l) => [l.index, l]));
  const stale = (await mainTableRoutes(nl)).filter((r) => {
    if (r.protocol === RTPROT_KERNEL || r.oif === undefined) return false;
    const link = byIndex.get(r.oif);
    return link !== undefined && !(link.flags & IFF_LOOPBACK);
  });
  const ordered = [...planned.filter((r) => !r.gateway), ...planned.filter((r) => r.gateway)];

  const applied: string[] = [];
  try {
    for (const r of stale) {
      const text = routeText(r, byIndex);
      try {
        await deleteRoute(nl, r, `remove route ${text}`);
      } catch (err) {
        // Removing an earlier route (or its address) may have taken this one with it.
        if ((err as { code?: string }).code !== 'ESRCH') throw err;
      }
      applied.push(`removed ${text}`);
    }
    for (const r of ordered) {
      try {
        await addRoute(nl, r, `add route ${r.text}`);
        applied.push(`added ${r.text}`);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
        applied.push(`${r.text} was already present`);
      }
    }
  } catch (err) {
    throw partiallyApplied('update routes', err, applied);
  }
  log.info('routes updated', { removed: stale.length, added: ordered.map((r) => r.text) });
  return listRouteTable(nl);
}

function routeText(r: Route, links: Map<number, Link>): string {
  const dest = r.dst ? `${formatIp(r.dst)}/${r.dstLength}` : 'default';
  const via = r.gateway ? ` via ${formatIp(r.gateway)}` : '';
  return `${dest}${via} dev ${links.get(r.oif ?? -1)?.name ?? r.oif}`;
}

export function pbRouteOf(r: Route, links: Map<number, Link>): PbRoute {
  return {
    // A default route has no destination; anything else as CIDR (what UpdateRoutes accepts).
    dest: r.dst && r.dstLength > 0 ? `${formatIp(r.dst)}/${r.dstLength}` : '',
    gateway: r.gateway ? formatIp(r.gateway) : '',
    device: r.oif !== undefined ? (links.get(r.oif)?.name ?? '') : '',
    source: r.prefsrc ? formatIp(r.prefsrc) : r.src ? `${formatIp(r.src)}/${r.srcLength}` : '',
    scope: r.scope,
    family: familyName(r.family),
    flags: r.flags & NEXTHOP_FLAGS,
  };
}

/** The main table, IPv4 then IPv6, as Kata's ListRoutes gives it (kernel routes included). */
export async function listRouteTable(nl: RtnetlinkClient): Promise<PbRoute[]> {
  const links = new Map((await listLinks(nl)).map((l) => [l.index, l]));
  return (await mainTableRoutes(nl)).map((r) => pbRouteOf(r, links));
}
