// Netlink message framing (struct nlmsghdr): length u32 (header included), type u16, flags u16,
// sequence u32, port id u32, then the payload padded to 4 bytes. One datagram may carry several.
import { align4 } from './attributes';
import { NLMSG_ERROR, NLMSG_HDRLEN } from './constants';

export interface NetlinkHeader {
  type: number;
  flags: number;
  seq: number;
  /** Sender port id: 0 from the kernel, and 0 is fine in requests (the kernel fills it in). */
  pid: number;
}

export interface NetlinkMessage extends NetlinkHeader {
  /** The payload after the header (a view into the datagram). */
  payload: Buffer;
}

export function encodeNetlinkMessage(header: NetlinkHeader, body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  const length = NLMSG_HDRLEN + payload.length;
  const out = Buffer.alloc(align4(length));
  out.writeUInt32LE(length, 0);
  out.writeUInt16LE(header.type, 4);
  out.writeUInt16LE(header.flags, 6);
  out.writeUInt32LE(header.seq >>> 0, 8);
  out.writeUInt32LE(header.pid >>> 0, 12);
  payload.copy(out, NLMSG_HDRLEN);
  return out;
}

/** Splits a received datagram into its messages; throws on a truncated or inconsistent one. */
export function parseDatagram(datagram: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= datagram.length) {
    const length = datagram.readUInt32LE(off);
    if (length < NLMSG_HDRLEN || off + length > datagram.length) {
      throw new Error(`malformed netlink message at offset ${off}: length ${length}, ${datagram.length - off} bytes left`);
    }
    out.push({
      type: datagram.readUInt16LE(off + 4),
      flags: datagram.readUInt16LE(off + 6),
      seq: datagram.readUInt32LE(off + 8),
      pid: datagram.readUInt32LE(off + 12),
      payload: datagram.subarray(off + NLMSG_HDRLEN, off + length),
    });
    off += align4(length);
  }
  return out;
}

/** struct nlmsgerr: a negative errno (0 = ACK) followed by the header of the request it answers. */
export interface NetlinkErrorPayload {
  /** Positive errno, 0 for an ACK. */
  errno: number;
  /** The request this answers (header only). */
  request?: NetlinkHeader;
}

export function parseErrorPayload(msg: NetlinkMessage): NetlinkErrorPayload {
  if (msg.type !== NLMSG_ERROR || msg.payload.length < 4) throw new Error(`netlink message type ${msg.type} is not an error message`);
  const errno = -msg.payload.readInt32LE(0);
  const p = msg.payload;
  const request =
    p.length >= 4 + NLMSG_HDRLEN
      ? { type: p.readUInt16LE(8), flags: p.readUInt16LE(10), seq: p.readUInt32LE(12), pid: p.readUInt32LE(16) }
      : undefined;
  return { errno, request };
}
