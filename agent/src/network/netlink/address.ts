// Address messages (RTM_NEWADDR / DELADDR / GETADDR): struct ifaddrmsg then IFA_* attributes.
// ifaddrmsg: family u8, prefixlen u8, flags u8, scope u8, index u32.
import { Attributes } from './attributes';
import { IFA_ADDRESS, IFA_FLAGS, IFA_LABEL, IFA_LOCAL, IFADDRMSG_LEN } from './constants';

export interface IfAddrHeader {
  family: number;
  prefixLength: number;
  flags: number;
  scope: number;
  index: number;
}

export interface AddressMessage {
  header: IfAddrHeader;
  attrs: Attributes;
}

export interface Address {
  family: number;
  prefixLength: number;
  index: number;
  scope: number;
  /** IFA_FLAGS when present (it carries the bits that do not fit the header's u8). */
  flags: number;
  /** The interface's own address: IFA_LOCAL, or IFA_ADDRESS where no IFA_LOCAL is sent (IPv6). */
  local: Buffer;
  /** The peer on point-to-point links, else the same as local. */
  address?: Buffer;
  label?: string;
}

export function encodeAddressMessage(header: Partial<IfAddrHeader>, attrs: Buffer[] = []): Buffer {
  const h = Buffer.alloc(IFADDRMSG_LEN);
  h.writeUInt8(header.family ?? 0, 0);
  h.writeUInt8(header.prefixLength ?? 0, 1);
  h.writeUInt8((header.flags ?? 0) & 0xff, 2);
  h.writeUInt8(header.scope ?? 0, 3);
  h.writeUInt32LE(header.index ?? 0, 4);
  return Buffer.concat([h, ...attrs]);
}

export function decodeAddressMessage(payload: Buffer): AddressMessage {
  if (payload.length < IFADDRMSG_LEN) throw new Error(`address message of ${payload.length} bytes is shorter than ifaddrmsg`);
  return {
    header: {
      family: payload.readUInt8(0),
      prefixLength: payload.readUInt8(1),
      flags: payload.readUInt8(2),
      scope: payload.readUInt8(3),
      index: payload.readUInt32LE(4),
    },
    attrs: Attributes.parse(payload, IFADDRMSG_LEN),
  };
}

export function addressFromMessage(m: AddressMessage): Address {
  const local = m.attrs.bytes(IFA_LOCAL) ?? m.attrs.bytes(IFA_ADDRESS);
  if (!local) throw new Error(`address message for link ${m.header.index} carries no address`);
  return {
    family: m.header.family,
    prefixLength: m.header.prefixLength,
    index: m.header.index,
    scope: m.header.scope,
    flags: m.attrs.u32(IFA_FLAGS) ?? m.header.flags,
    local,
    address: m.attrs.bytes(IFA_ADDRESS),
    label: m.attrs.string(IFA_LABEL),
  };
}
