// The OCI runtime spec (config.json, json tag names) as the grpc.Spec message a Kata runtime
// sends (Go field names, 64-bit integers as decimal strings): the reverse of the agent's
// container/oci-json.ts, using the same name table. Also a default spec for commands run
// without a bundle.
import { jsonName } from '../src/container/oci-json';
import { SANDBOX_SHM } from '../src/paths';
import type { LinuxResourcesInit, ProcessInit, SpecInit } from '../src/proto/messages.generated';
import { INT64_TYPES, type MessageType, messageType, setEntry } from '../src/proto/schema';

type Obj = Record<string, unknown>;

/**
 * JSON.parse, except that integers too long for a double (rlimits and limits up to 2^64-1)
 * are kept exact as decimal strings, which is how the grpc.Spec object carries 64-bit values.
 */
export function parseOciJson(text: string): unknown {
  const quoted = text.replace(/"(?:[^"\\]|\\.)*"|-?\d{16,}(?![.\deE])/g, (token) => (token.startsWith('"') ? token : `"${token}"`));
  return JSON.parse(quoted);
}

export interface SpecConversion<T> {
  /** Built field by field from the schema: a message of its type by construction. */
  spec: T;
  /** JSON paths of config.json members grpc.Spec has no field for (left out). */
  dropped: string[];
}

export function ociJsonToSpec(json: unknown): SpecConversion<SpecInit> {
  const dropped: string[] = [];
  const spec = ociJsonToMessage(messageType('grpc.Spec'), json, '', dropped);
  return { spec, dropped };
}

/** linux.resources in OCI JSON as grpc.LinuxResources (UpdateContainer). */
export function ociJsonToResources(json: unknown): SpecConversion<LinuxResourcesInit> {
  const dropped: string[] = [];
  const spec = ociJsonToMessage(messageType('grpc.LinuxResources'), json, 'resources', dropped);
  return { spec, dropped };
}

function ociJsonToMessage(type: MessageType, json: unknown, path: string, dropped: string[]): Obj {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${path || 'spec'}: expected an object for ${type.name}, got ${Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const byJsonName = new Map(type.fieldsArray.map((f) => [jsonName(f.name), f]));
  const out: Obj = {};
  for (const [key, value] of Object.entries(json)) {
    const at = path ? `${path}.${key}` : key;
    const field = byJsonName.get(key);
    if (!field) {
      dropped.push(at);
      continue;
    }
    if (value === null || value === undefined) continue;
    const convert = (v: unknown, p: string): unknown =>
      field.kind === 'message' ? ociJsonToMessage(field.message!, v, p, dropped) : convertScalar(field.type, v);
    if (field.map) {
      const m: Obj = {};
      for (const [k, v] of Object.entries(value as Obj)) setEntry(m, k, convert(v, `${at}.${k}`));
      out[field.name] = m;
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new Error(`${at}: expected an array`);
      out[field.name] = value.map((v, i) => convert(v, `${at}[${i}]`));
    } else {
      out[field.name] = convert(value, at);
    }
  }
  return out;
}

function convertScalar(protoType: string, value: unknown): unknown {
  if (INT64_TYPES.has(protoType) && (typeof value === 'number' || typeof value === 'bigint')) return String(value);
  return value;
}

// What Docker and containerd give a container by default: enough for ordinary programs.
const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export const DEFAULT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

export interface ProcessOptions {
  args: string[];
  terminal?: boolean;
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
}

/** A grpc.Process (ExecProcess, or the default spec's init). */
export function processSpec(opts: ProcessOptions): ProcessInit {
  const caps = DEFAULT_CAPABILITIES;
  return {
    Terminal: opts.terminal ?? false,
    Args: opts.args,
    Env: [...DEFAULT_ENV, ...(opts.env ?? [])],
    Cwd: opts.cwd ?? '/',
    User: { UID: opts.uid ?? 0, GID: opts.gid ?? 0 },
    Capabilities: { Bounding: caps, Effective: caps, Permitted: caps },
    NoNewPrivileges: true,
  };
}

/** A grpc.Spec for a container made without a bundle: the usual mounts and namespaces. */
export function defaultSpec(process: ProcessOptions): SpecInit {
  return {
    Version: '1.0.2',
    Process: processSpec(process),
    Root: { Path: '', Readonly: false },
    Mounts: [
      { destination: '/proc', source: 'proc', type: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', source: 'tmpfs', type: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', source: 'devpts', type: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      // The agent binds the pod's /dev/shm here, or mounts a private tmpfs without one.
      { destination: '/dev/shm', source: SANDBOX_SHM, type: 'bind', options: ['rbind', 'rprivate', 'rw'] },
      { destination: '/sys', source: 'sysfs', type: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    Linux: {
      Namespaces: [{ Type: 'pid' }, { Type: 'ipc' }, { Type: 'uts' }, { Type: 'mount' }],
      MaskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
