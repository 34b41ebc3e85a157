// The protocol objects (types.proto) as handlers see them: proto field names, enums as names,
// uint64 as decimal strings (see proto/codec.ts).

export type IPFamilyName = 'v4' | 'v6';

export interface PbIPAddress {
  family: IPFamilyName;
  address: string;
  mask: string;
}

export interface PbInterface {
  device: string;
  name: string;
  IPAddresses: PbIPAddress[];
  mtu: string;
  hwAddr: string;
  pciPath: string;
  type: string;
  raw_flags: number;
}

export interface PbRoute {
  dest: string;
  gateway: string;
  device: string;
  source: string;
  scope: number;
  family: IPFamilyName;
  /** RTNH_F_* (rtm_flags); Kata sends RTNH_F_ONLINK for gateways outside every subnet. */
  flags: number;
}

export interface PbARPNeighbor {
  toIPAddress: PbIPAddress | null;
  device: string;
  lladdr: string;
  state: number;
  flags: number;
}
