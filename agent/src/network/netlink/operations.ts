// The rtnetlink requests the network domain uses, as typed functions over RtnetlinkClient.
// Deletions send back the message the kernel dumped (as `ip ... flush` does), so the kernel
// matches exactly the object it reported.
import { addressFromMessage, decodeAddressMessage, encodeAddressMessage, type Address } from './address';
import { encodeAttribute, stringAttribute, u32Attribute } from './attributes';
import type { RtnetlinkClient } from './client';
import {
  AF_INET,
  AF_UNSPEC,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_LOCAL,
  IFF_NOARP,
  IFF_UP,
  IFLA_IFNAME,
  IFLA_MTU,
  NDA_DST,
  NDA_LLADDR,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_PREFSRC,
  RTM_DELADDR,
  RTM_DELROUTE,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETROUTE,
  RTM_NEWADDR,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTM_SETLINK,
  RTN_UNICAST,
  RTPROT_BOOT,
  RT_TABLE_MAIN,
} from './constants';
import { decodeLinkMessage, encodeLinkMessage, linkFromMessage, type Link } from './link';
import { encodeNeighbourMessage } from './neighbour';
import { decodeRouteMessage, encodeRouteMessage, routeFromMessage, type Route } from './route';

/** A dumped object together with the payload it came in (to delete it again). */
export type Dumped<T> = T & { raw: Buffer };

export async function listLinks(nl: RtnetlinkClient): Promise<Link[]> {
  const parts = await nl.dump('list links', RTM_GETLINK, encodeLinkMessage({ family: AF_UNSPEC }));
  return parts.map((m) => linkFromMessage(decodeLinkMessage(m.payload)));
}

export interface LinkChange {
  name?: string;
  mtu?: number;
  up?: boolean;
  noArp?: boolean;
}

/** One RTM_SETLINK; the kernel applies the name before the flags, so a down link can be renamed and raised at once. */
export async function setLink(nl: RtnetlinkClient, index: number, change: LinkChange, operation: string): Promise<void> {
  let flags = 0;
  let mask = 0;
  if (change.up !== undefined) {
    mask |= IFF_UP;
    if (change.up) flags |= IFF_UP;
  }
  if (change.noArp !== undefined) {
    mask |= IFF_NOARP;
    if (change.noArp) flags |= IFF_NOARP;
  }
  const attrs: Buffer[] = [];
  if (change.name !== undefined) attrs.push(stringAttribute(IFLA_IFNAME, change.name));
  if (change.mtu !== undefined) attrs.push(u32Attribute(IFLA_MTU, change.mtu));
  await nl.request(operation, RTM_SETLINK, 0, encodeLinkMessage({ index, flags, change: mask }, attrs));
}

export async function listAddresses(nl: RtnetlinkClient): Promise<Dumped<Address>[]> {
  const parts = await nl.dump('list addresses', RTM_GETADDR, encodeAddressMessage({ family: AF_UNSPEC }));
  return parts.map((m) => ({ ...addressFromMessage(decodeAddressMessage(m.payload)), raw: m.payload }));
}

export async function addAddress(
  nl: RtnetlinkClient,
  a: { index: number; family: number; address: Buffer; prefixLength: number },
  operation: string,
): Promise<void> {
  const attrs = [encodeAttribute(IFA_LOCAL, a.address), encodeAttribute(IFA_ADDRESS, a.address)];
  if (a.family === AF_INET && a.prefixLength < 31) attrs.push(encodeAttribute(IFA_BROADCAST, ipv4Broadcast(a.address, a.prefixLength)));
  const body = encodeAddressMessage({ family: a.family, prefixLength: a.prefixLength, index: a.index }, attrs);
  await nl.request(operation, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, body);
}

export async function deleteAddress(nl: RtnetlinkClient, a: Dumped<Address>, operation: string): Promise<void> {
  await nl.request(operation, RTM_DELADDR, 0, a.raw);
}

function ipv4Broadcast(address: Buffer, prefixLength: number): Buffer {
  const host = prefixLength === 0 ? 0xffffffff : (1 << (32 - prefixLength)) - 1;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((address.readUInt32BE(0) | host) >>> 0, 0);
  return out;
}

/** Routes of one family, every table (filter by `table` afterwards). */
export async function listRoutes(nl: RtnetlinkClient, family: number): Promise<Dumped<Route>[]> {
  const parts = await nl.dump('list routes', RTM_GETROUTE, encodeRouteMessage({ family }));
  return parts.map((m) => ({ ...routeFromMessage(decodeRouteMessage(m.payload)), raw: m.payload }));
}

export interface RouteSpec {
  family: number;
  dst?: Buffer;
  dstLength: number;
  gateway?: Buffer;
  prefsrc?: Buffer;
  oif: number;
  scope: number;
  /** rtm_flags: RTNH_F_* next-hop flags. */
  flags?: number;
}

/** Adds a unicast route to the main table as a boot-time route (RTPROT_BOOT), as Kata's agent does. */
export async function addRoute(nl: RtnetlinkClient, r: RouteSpec, operation: string): Promise<void> {
  const attrs: Buffer[] = [];
  if (r.dst && r.dstLength > 0) attrs.push(encodeAttribute(RTA_DST, r.dst));
  attrs.push(u32Attribute(RTA_OIF, r.oif));
  if (r.gateway) attrs.push(encodeAttribute(RTA_GATEWAY, r.gateway));
  if (r.prefsrc) attrs.push(encodeAttribute(RTA_PREFSRC, r.prefsrc));
  const body = encodeRouteMessage(
    { family: r.family, dstLength: r.dstLength, table: RT_TABLE_MAIN, protocol: RTPROT_BOOT, scope: r.scope, type: RTN_UNICAST, flags: r.flags ?? 0 },
    attrs,
  );
  await nl.request(operation, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body);
}

export async function deleteRoute(nl: RtnetlinkClient, r: Dumped<Route>, operation: string): Promise<void> {
  await nl.request(operation, RTM_DELROUTE, 0, r.raw);
}

export interface NeighbourSpec {
  family: number;
  index: number;
  dst: Buffer;
  lladdr?: Buffer;
  state: number;
  flags: number;
}

export async function addNeighbour(nl: RtnetlinkClient, n: NeighbourSpec, operation: string): Promise<void> {
  const attrs = [encodeAttribute(NDA_DST, n.dst)];
  if (n.lladdr) attrs.push(encodeAttribute(NDA_LLADDR, n.lladdr));
  const body = encodeNeighbourMessage({ family: n.family, index: n.index, state: n.state, flags: n.flags }, attrs);
  await nl.request(operation, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, body);
}
