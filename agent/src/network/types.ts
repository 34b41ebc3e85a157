// The protocol objects (types.proto) as handlers see them: the generated decoded shapes (proto
// field names, enums as names or an undefined value's number, uint64 as decimal strings; see
// proto/codec.ts). What listing builds is of the same shape.
import type { ARPNeighbor, Interface, IPAddress, Route } from '../proto/messages.generated';

export type PbIPAddress = IPAddress;
export type PbInterface = Interface;
export type PbRoute = Route;
export type PbARPNeighbor = ARPNeighbor;
