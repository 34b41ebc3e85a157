// Route messages (RTM_NEWROUTE / DELROUTE / GETROUTE): struct rtmsg then RTA_* attributes.
// rtmsg: family u8, dst_len u8, src_len u8, tos u8, table u8, protocol u8, scope u8, type u8,
// flags u32.
import { Attributes } from './attributes';
import { RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_SRC, RTA_TABLE, RTMSG_LEN } from './constants';

export interface RtHeader {
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  /** The table id when it fits a byte; RTA_TABLE carries the full one. */
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}

export interface RouteMessage {
  header: RtHeader;
  attrs: Attributes;
}

export interface Route extends RtHeader {
  dst?: Buffer;
  src?: Buffer;
  gateway?: Buffer;
  prefsrc?: Buffer;
  oif?: number;
  priority?: number;
}

export function encodeRouteMessage(header: Partial<RtHeader>, attrs: Buffer[] = []): Buffer {
  const h = Buffer.alloc(RTMSG_LEN);
  h.writeUInt8(header.family ?? 0, 0);
  h.writeUInt8(header.dstLength ?? 0, 1);
  h.writeUInt8(header.srcLength ?? 0, 2);
  h.writeUInt8(header.tos ?? 0, 3);
  h.writeUInt8(header.table ?? 0, 4);
  h.writeUInt8(header.protocol ?? 0, 5);
  h.writeUInt8(header.scope ?? 0, 6);
  h.writeUInt8(header.type ?? 0, 7);
  h.writeUInt32LE((header.flags ?? 0) >>> 0, 8);
  return Buffer.concat([h, ...attrs]);
}

export function decodeRouteMessage(payload: Buffer): RouteMessage {
  if (payload.length < RTMSG_LEN) throw new Error(`route message of ${payload.length} bytes is shorter than rtmsg`);
  return {
    header: {
      family: payload.readUInt8(0),
      dstLength: payload.readUInt8(1),
      srcLength: payload.readUInt8(2),
      tos: payload.readUInt8(3),
      table: payload.readUInt8(4),
      protocol: payload.readUInt8(5),
      scope: payload.readUInt8(6),
      type: payload.readUInt8(7),
      flags: payload.readUInt32LE(8),
    },
    attrs: Attributes.parse(payload, RTMSG_LEN),
  };
}

export function routeFromMessage(m: RouteMessage): Route {
  return {
    ...m.header,
    table: m.attrs.u32(RTA_TABLE) ?? m.header.table,
    dst: m.attrs.bytes(RTA_DST),
    src: m.attrs.bytes(RTA_SRC),
    gateway: m.attrs.bytes(RTA_GATEWAY),
    prefsrc: m.attrs.bytes(RTA_PREFSRC),
    oif: m.attrs.u32(RTA_OIF),
    priority: m.attrs.u32(RTA_PRIORITY),
  };
}
