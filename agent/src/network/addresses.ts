// Text forms of IP and MAC addresses <-> bytes, strict: anything malformed is `undefined`, so
// callers can name the bad field in their error.
import { isIPv4, isIPv6 } from 'node:net';
import { AF_INET, AF_INET6 } from './netlink/constants';

export interface IpAddress {
  family: typeof AF_INET | typeof AF_INET6;
  bytes: Buffer;
}

export function parseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) return { family: AF_INET, bytes: Buffer.from(text.split('.').map(Number)) };
  if (isIPv6(text) && !text.includes('%')) return { family: AF_INET6, bytes: parseIpv6(text) };
  return undefined;
}

function parseIpv6(text: string): Buffer {
  const out = Buffer.alloc(16);
  let tail = text;
  // An embedded IPv4 address (::ffff:1.2.3.4) takes the last two groups.
  let v4: number[] | undefined;
  const lastColon = tail.lastIndexOf(':');
  if (tail.slice(lastColon + 1).includes('.')) {
    v4 = tail.slice(lastColon + 1).split('.').map(Number);
    tail = tail.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = tail.includes('::') ? tail.split('::') : [tail, undefined];
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest ? rest.split(':') : [];
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (v4) out.set(v4, 12);
  return out;
}

/** Dotted quad, or RFC 5952 text for IPv6 (what `ip` prints). */
export function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) return bytes.toString('hex');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${Array.from(bytes.subarray(12)).join('.')}`;
  // The longest run of two or more zero groups becomes '::' (the first one on a tie).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export const maxPrefix = (family: number): number => (family === AF_INET ? 32 : 128);

/** A decimal prefix length valid for `family` ("24"), else undefined. */
export function parsePrefixLength(text: string, family: number): number | undefined {
  if (!/^\d{1,3}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= maxPrefix(family) ? n : undefined;
}

export interface Cidr extends IpAddress {
  prefixLength: number;
}

/** "10.0.0.0/24", "fd00::/64", or a bare address (a host route: /32, /128). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const prefixLength = slash < 0 ? maxPrefix(ip.family) : parsePrefixLength(text.slice(slash + 1), ip.family);
  return prefixLength === undefined ? undefined : { ...ip, prefixLength };
}

/** Six colon-separated hex octets (one or two digits each), case-insensitive. */
export function parseMac(text: string): Buffer | undefined {
  const parts = text.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return undefined;
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** Lower-case, two digits per octet, colon-separated: the form Kata's runtime sends. */
export function formatMac(bytes: Buffer): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The IPFamily enum name of protocol objects. */
export const familyName = (family: number): 'v4' | 'v6' => (family === AF_INET6 ? 'v6' : 'v4');
