// The grpc.Spec message (Go field names, 64-bit integers as decimal strings) as the OCI runtime
// spec JSON that crun reads (json tag names, 64-bit integers as exact JSON numbers).
import { INT64_TYPES, type MessageType, messageType, setEntry } from '../proto/schema';

/** OCI runtime-spec JSON, with 64-bit integers held as bigint so none loses precision. */
export type OciJson = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// Field names whose json tag is not simply the Go name with a lower-case first letter.
const JSON_NAMES: Record<string, string> = {
  Version: 'ociVersion',
  UID: 'uid',
  GID: 'gid',
  OOMScoreAdj: 'oomScoreAdj',
  UIDMappings: 'uidMappings',
  GIDMappings: 'gidMappings',
  HostID: 'hostID',
  ContainerID: 'containerID',
  CPU: 'cpu',
  BlockIO: 'blockIO',
  KernelTCP: 'kernelTCP',
  DisableOOMKiller: 'disableOOMKiller',
  ThrottleReadIOPSDevice: 'throttleReadIOPSDevice',
  ThrottleWriteIOPSDevice: 'throttleWriteIOPSDevice',
  ClassID: 'classID',
  IntelRdt: 'intelRdt',
  L3CacheSchema: 'l3CacheSchema',
  Pagesize: 'pageSize',
  errnoret: 'errnoRet',
};

// Placeholders Kata never fills; the OCI Linux runtime has no use for them.
const DROPPED = new Set(['Solaris', 'Windows']);

// Fields the OCI spec requires (no omitempty in its Go structs) that protobuf leaves out when
// zero: written as explicit zeros, so "argument 0 equals 0" stays what the runtime sent.
const REQUIRED_ZERO: Record<string, ReadonlySet<string>> = {
  'grpc.LinuxSeccompArg': new Set(['Index', 'Value']),
  'grpc.LinuxIDMapping': new Set(['ContainerID', 'HostID', 'Size']),
  // "allow": false is the deny rule (runtimes send a deny-all first)
  'grpc.LinuxDeviceCgroup': new Set(['Allow']),
};

export function jsonName(protoName: string): string {
  return JSON_NAMES[protoName] ?? protoName.charAt(0).toLowerCase() + protoName.slice(1);
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === '' || v === 0 || v === false || v === 0n) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object' && !(v instanceof Buffer)) return Object.keys(v as object).length === 0;
  return false;
}

function convertScalar(protoType: string, value: unknown): unknown {
  if (INT64_TYPES.has(protoType)) return BigInt(String(value));
  return value;
}

/**
 * Converts one message object. Zero values are left out, as Go's omitempty does for the OCI
 * structs, so crun applies its own defaults rather than explicit zeros.
 */
export function messageToOciJson(type: MessageType, obj: object): OciJson {
  const out: OciJson = {};
  const required = REQUIRED_ZERO[type.fullName];
  for (const field of type.fieldsArray) {
    if (DROPPED.has(field.name)) continue;
    let value = (obj as Record<string, unknown>)[field.name];
    if ((value === undefined || value === null) && required?.has(field.name)) value = field.type === 'bool' ? false : 0;
    if (value === undefined || value === null) continue;
    const convert = (v: unknown): unknown =>
      field.kind === 'message' ? messageToOciJson(field.message!, v as Record<string, unknown>) : convertScalar(field.type, v);
    let converted: unknown;
    if (field.map) {
      const m: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) setEntry(m, k, convert(v));
      converted = m;
    } else if (field.repeated) {
      converted = (value as unknown[]).map(convert);
    } else {
      converted = convert(value);
    }
    // A oneof member (errnoret) is present only when set; keep it even when zero.
    if (isEmpty(converted) && field.oneof === undefined && !required?.has(field.name)) continue;
    out[jsonName(field.name)] = converted;
  }
  return out;
}

export function specToOciJson(spec: object): OciJson {
  return messageToOciJson(messageType('grpc.Spec'), spec);
}

/** LinuxResources (UpdateContainer) as OCI JSON. */
export function resourcesToOciJson(resources: object): OciJson {
  return messageToOciJson(messageType('grpc.LinuxResources'), resources);
}

const BIGINT_MARK = '\u0000int64:';

/** JSON text with bigint values written as exact numbers. */
export function stringifyOciJson(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${BIGINT_MARK}${v}` : v), 1);
  return text.replace(/"\\u0000int64:(-?\d+)"/g, '$1');
}
