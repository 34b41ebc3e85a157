// Agent addresses as Kata writes them (agent.server_addr, the runtime's agent URL).

export const VMADDR_CID_ANY = 0xffffffff;

export type AgentAddress =
  | { kind: 'unix'; path: string; text: string } // path starts with \0 for abstract sockets
  | { kind: 'vsock'; cid: number; port: number; text: string }
  | { kind: 'hvsock'; path: string; port: number; text: string }
  | { kind: 'serial'; path: string; text: string };

export class AddressError extends Error {}

const FORMS = 'unix:///path, unix://@name, vsock://CID:PORT, hvsock:///path:PORT or serial:///path';

function parsePort(text: string, what: string, raw: string): number {
  if (!/^\d+$/.test(text)) throw new AddressError(`bad address "${raw}": ${what} "${text}" is not a number`);
  const n = Number(text);
  if (n > 0xffffffff) throw new AddressError(`bad address "${raw}": ${what} ${n} is out of range`);
  return n;
}

export function parseAddress(raw: string): AgentAddress {
  const m = /^([a-z]+):\/\/(.*)$/.exec(raw.trim());
  if (!m) throw new AddressError(`bad address "${raw}": expected ${FORMS}`);
  const [, scheme, rest] = m as unknown as [string, string, string];
  switch (scheme) {
    case 'unix':
      if (rest.startsWith('@') && rest.length > 1) return { kind: 'unix', path: `\0${rest.slice(1)}`, text: raw };
      if (rest.startsWith('/')) return { kind: 'unix', path: rest, text: raw };
      throw new AddressError(`bad address "${raw}": a unix address needs an absolute path or @name`);
    case 'vsock': {
      const vm = /^(-1|\d+):(\d+)$/.exec(rest);
      if (!vm) throw new AddressError(`bad address "${raw}": expected vsock://CID:PORT (CID -1 = any)`);
      const cid = vm[1] === '-1' ? VMADDR_CID_ANY : parsePort(vm[1]!, 'CID', raw);
      return { kind: 'vsock', cid, port: parsePort(vm[2]!, 'port', raw), text: raw };
    }
    case 'hvsock': {
      const hm = /^(.+):(\d+)$/.exec(rest);
      if (!hm || !hm[1]!.startsWith('/')) throw new AddressError(`bad address "${raw}": expected hvsock:///path/to/socket:PORT`);
      return { kind: 'hvsock', path: hm[1]!, port: parsePort(hm[2]!, 'port', raw), text: raw };
    }
    case 'serial':
      if (rest.startsWith('/')) return { kind: 'serial', path: rest, text: raw };
      throw new AddressError(`bad address "${raw}": expected serial:///path`);
    default:
      throw new AddressError(`bad address "${raw}": unknown scheme "${scheme}", expected ${FORMS}`);
  }
}
