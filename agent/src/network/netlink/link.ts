// Link messages (RTM_NEWLINK / GETLINK / SETLINK): struct ifinfomsg then IFLA_* attributes.
// ifinfomsg: family u8, pad u8, type u16 (ARPHRD_*), index i32, flags u32 (IFF_*), change u32.
import { Attributes } from './attributes';
import { IFINFOMSG_LEN, IFLA_ADDRESS, IFLA_IFNAME, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU } from './constants';

export interface IfInfoHeader {
  family: number;
  type: number;
  index: number;
  flags: number;
  /** Which bits of `flags` a SETLINK changes. */
  change: number;
}

export interface LinkMessage {
  header: IfInfoHeader;
  attrs: Attributes;
}

/** The parts of a link the agent works with. */
export interface Link {
  index: number;
  name: string;
  flags: number;
  mtu: number;
  /** Hardware address bytes (absent for links without one, e.g. some tunnels). */
  address?: Buffer;
  /** IFLA_INFO_KIND: veth, bridge, macvtap ... ('' for physical devices). */
  kind: string;
  master?: number;
}

export function encodeLinkMessage(header: Partial<IfInfoHeader>, attrs: Buffer[] = []): Buffer {
  const h = Buffer.alloc(IFINFOMSG_LEN);
  h.writeUInt8(header.family ?? 0, 0);
  h.writeUInt16LE(header.type ?? 0, 2);
  h.writeInt32LE(header.index ?? 0, 4);
  h.writeUInt32LE((header.flags ?? 0) >>> 0, 8);
  h.writeUInt32LE((header.change ?? 0) >>> 0, 12);
  return Buffer.concat([h, ...attrs]);
}

export function decodeLinkMessage(payload: Buffer): LinkMessage {
  if (payload.length < IFINFOMSG_LEN) throw new Error(`link message of ${payload.length} bytes is shorter than ifinfomsg`);
  return {
    header: {
      family: payload.readUInt8(0),
      type: payload.readUInt16LE(2),
      index: payload.readInt32LE(4),
      flags: payload.readUInt32LE(8),
      change: payload.readUInt32LE(12),
    },
    attrs: Attributes.parse(payload, IFINFOMSG_LEN),
  };
}

export function linkFromMessage(m: LinkMessage): Link {
  return {
    index: m.header.index,
    name: m.attrs.string(IFLA_IFNAME) ?? '',
    flags: m.header.flags,
    mtu: m.attrs.u32(IFLA_MTU) ?? 0,
    address: m.attrs.bytes(IFLA_ADDRESS),
    kind: m.attrs.nested(IFLA_LINKINFO)?.string(IFLA_INFO_KIND) ?? '',
    master: m.attrs.u32(IFLA_MASTER),
  };
}
