// Neighbour messages (RTM_NEWNEIGH / DELNEIGH / GETNEIGH): struct ndmsg then NDA_* attributes.
// ndmsg: family u8, pad u8, pad u16, ifindex i32, state u16 (NUD_*), flags u8 (NTF_*), type u8.
import { Attributes } from './attributes';
import { NDA_DST, NDA_LLADDR, NDMSG_LEN } from './constants';

export interface NdHeader {
  family: number;
  index: number;
  state: number;
  flags: number;
  type: number;
}

export interface NeighbourMessage {
  header: NdHeader;
  attrs: Attributes;
}

export interface Neighbour extends NdHeader {
  dst?: Buffer;
  lladdr?: Buffer;
}

export function encodeNeighbourMessage(header: Partial<NdHeader>, attrs: Buffer[] = []): Buffer {
  const h = Buffer.alloc(NDMSG_LEN);
  h.writeUInt8(header.family ?? 0, 0);
  h.writeInt32LE(header.index ?? 0, 4);
  h.writeUInt16LE(header.state ?? 0, 8);
  h.writeUInt8(header.flags ?? 0, 10);
  h.writeUInt8(header.type ?? 0, 11);
  return Buffer.concat([h, ...attrs]);
}

export function decodeNeighbourMessage(payload: Buffer): NeighbourMessage {
  if (payload.length < NDMSG_LEN) throw new Error(`neighbour message of ${payload.length} bytes is shorter than ndmsg`);
  return {
    header: {
      family: payload.readUInt8(0),
      index: payload.readInt32LE(4),
      state: payload.readUInt16LE(8),
      flags: payload.readUInt8(10),
      type: payload.readUInt8(11),
    },
    attrs: Attributes.parse(payload, NDMSG_LEN),
  };
}

export function neighbourFromMessage(m: NeighbourMessage): Neighbour {
  return { ...m.header, dst: m.attrs.bytes(NDA_DST), lladdr: m.attrs.bytes(NDA_LLADDR) };
}
