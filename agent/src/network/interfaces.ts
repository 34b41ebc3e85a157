// UpdateInterface and ListInterfaces over rtnetlink, with Kata's semantics: the link is found
// by MAC address, taken down, its addresses replaced by the requested ones, then renamed, given
// its MTU and ARP flag and brought up in one SETLINK. A link already holding the requested name
// swaps names with it. Everything in the request is checked before anything changes.
import { readFile } from 'node:fs/promises';
import type { Logger } from '../log/logger';
import { parsePciPath } from '../storage/pci-path';
import { familyName, formatIp, formatMac, parseIp, parseMac, parsePrefixLength, type IpAddress } from './addresses';
import { invalid, notFound, partiallyApplied } from './errors';
import { waitForLinkByMac } from './link-wait';
import type { RtnetlinkClient } from './netlink/client';
import { AF_INET, AF_INET6, IFF_LOOPBACK, IFF_NOARP, IFF_UP } from './netlink/constants';
import type { Address } from './netlink/address';
import type { Link } from './netlink/link';
import { addAddress, deleteAddress, listAddresses, listLinks, setLink } from './netlink/operations';
import type { PbIPAddress, PbInterface } from './types';

const IFNAMSIZ = 16;
const MAX_MTU = 0x7fffffff;

interface InterfacePlan {
  mac: Buffer;
  macText: string;
  name?: string;
  mtu?: number;
  noArp: boolean;
  /** A hot-plugged NIC: wait for it to appear. */
  pciPath?: string;
  addresses: (IpAddress & { prefixLength: number; text: string })[];
}

function planInterface(iface: PbInterface | null | undefined): InterfacePlan {
  if (!iface) throw invalid('update interface: the request carries no interface');
  const mac = parseMac(iface.hwAddr);
  if (!mac) throw invalid(`update interface: bad MAC address '${iface.hwAddr}' in hwAddr (want six hex octets, e.g. 5a:1c:3e:7f:42:0b)`);
  const macText = formatMac(mac);
  const what = `update interface ${macText}`;
  if (iface.name !== '' && !validLinkName(iface.name)) {
    throw invalid(`${what}: bad interface name '${iface.name}' (1-${IFNAMSIZ - 1} bytes, no '/', ':' or whitespace)`);
  }
  const mtu = Number(iface.mtu || 0);
  if (!Number.isInteger(mtu) || mtu < 0 || mtu > MAX_MTU) throw invalid(`${what}: bad MTU ${iface.mtu}`);
  if (iface.pciPath) {
    try {
      parsePciPath(iface.pciPath);
    } catch (err) {
      throw invalid(`${what}: bad pciPath: ${(err as Error).message}`);
    }
  }
  const addresses = (iface.IPAddresses ?? []).map((a, i) => planAddress(a, `${what}: IPAddresses[${i}]`));
  return {
    mac,
    macText,
    name: iface.name || undefined,
    mtu: mtu || undefined,
    noArp: (iface.raw_flags & IFF_NOARP) !== 0,
    pciPath: iface.pciPath || undefined,
    addresses,
  };
}

function planAddress(a: PbIPAddress, where: string): InterfacePlan['addresses'][number] {
  const ip = parseIp(a.address);
  if (!ip) throw invalid(`${where}: bad IP address '${a.address}'`);
  // family is an enum whose zero value is v4: an IPv6 address with the default family is fine.
  if (a.family === 'v6' && ip.family !== AF_INET6) throw invalid(`${where}: address ${a.address} is not IPv6 but family says v6`);
  const prefixLength = parsePrefixLength(a.mask, ip.family);
  if (prefixLength === undefined) throw invalid(`${where}: bad prefix length '${a.mask}' for ${a.address} (a decimal number, at most ${ip.family === AF_INET ? 32 : 128})`);
  return { ...ip, prefixLength, text: `${a.address}/${prefixLength}` };
}

function validLinkName(name: string): boolean {
  return Buffer.byteLength(name) < IFNAMSIZ && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

export function findLinkByMac(links: Link[], mac: Buffer): Link | undefined {
  return links.find((l) => l.address?.equals(mac));
}

/** IPv6 addresses cannot be added where IPv6 is off for the link (or absent): skip them, as Kata does. */
async function ipv6Enabled(linkName: string): Promise<boolean> {
  try {
    return (await readFile(`/proc/sys/net/ipv6/conf/${linkName}/disable_ipv6`, 'utf8')).trim() === '0';
  } catch {
    return false;
  }
}

export interface UpdateInterfaceOptions {
  /** How long to wait for a hot-plugged NIC (one with a pciPath) to appear. */
  hotplugTimeoutMs: number;
}

export async function updateInterface(
  nl: RtnetlinkClient,
  log: Logger,
  request: PbInterface | null | undefined,
  opts: UpdateInterfaceOptions,
): Promise<PbInterface> {
  const plan = planInterface(request);
  const what = `update interface ${plan.macText}`;
  if (plan.pciPath) {
    await waitForLinkByMac(nl, plan.mac, {
      timeoutMs: opts.hotplugTimeoutMs,
      what: `${what} (PCI path ${plan.pciPath})`,
      onWait: () => log.info('waiting for a hot-plugged interface', { mac: plan.macText, pciPath: plan.pciPath, timeoutMs: opts.hotplugTimeoutMs }),
    });
  }
  const links = await listLinks(nl);
  const link = findLinkByMac(links, plan.mac);
  if (!link) throw notFound(`${what}: no interface has MAC address ${plan.macText}`);
  const newName = plan.name ?? link.name;
  const holder = newName !== link.name ? links.find((l) => l.name === newName) : undefined;
  const v6 = plan.addresses.some((a) => a.family === AF_INET6) && !(await ipv6Enabled(link.name));
  const addresses = plan.addresses.filter((a) => a.family === AF_INET || !v6);
  if (addresses.length < plan.addresses.length) log.warn('IPv6 is disabled: skipping IPv6 addresses', { link: link.name, skipped: plan.addresses.length - addresses.length });

  // What has been done so far, for the error when a later step fails (each step's own error names it).
  const applied: string[] = [];
  const run = async (description: string, action: () => Promise<void>) => {
    await action();
    applied.push(description);
  };
  try {
    if (link.flags & IFF_UP) await run(`set ${link.name} down`, () => setLink(nl, link.index, { up: false }, `set ${link.name} down`));
    const old = (await listAddresses(nl)).filter((a) => a.index === link.index);
    for (const a of old) {
      const text = `${formatIp(a.local)}/${a.prefixLength}`;
      await run(`removed ${text} from ${link.name}`, () =>
        deleteAddress(nl, a, `remove ${text} from ${link.name}`).catch((err: unknown) => {
          // Removing a primary IPv4 address takes its secondaries with it.
          if ((err as { code?: string }).code !== 'EADDRNOTAVAIL') throw err;
        }),
      );
    }
    for (const a of addresses) {
      await run(`added ${a.text} to ${link.name}`, () => addAddress(nl, { index: link.index, family: a.family, address: a.bytes, prefixLength: a.prefixLength }, `add ${a.text} to ${link.name}`));
    }
    // The name is taken by another link: that one takes ours (it must be down to be renamed).
    const parked = holder ? `${holder.index}kata_tmp`.slice(0, IFNAMSIZ - 1) : '';
    if (holder) {
      await run(`renamed ${holder.name} to ${parked}`, () => setLink(nl, holder.index, { up: false, name: parked }, `rename ${holder.name} to ${parked}`));
    }
    const change = { name: newName !== link.name ? newName : undefined, mtu: plan.mtu, noArp: plan.noArp, up: true };
    const summary = [change.name && `name ${change.name}`, change.mtu && `mtu ${change.mtu}`, `arp ${plan.noArp ? 'off' : 'on'}`, 'up'].filter(Boolean).join(', ');
    await run(`set ${link.name} ${summary}`, () => setLink(nl, link.index, change, `set ${link.name} ${summary}`));
    if (holder) {
      const restore = { name: link.name, up: (holder.flags & IFF_UP) !== 0 };
      await run(`renamed ${parked} to ${link.name}`, () => setLink(nl, holder.index, restore, `rename ${parked} to ${link.name}`));
    }
  } catch (err) {
    throw partiallyApplied(`${what} (${link.name})`, err, applied);
  }
  log.info('interface updated', { link: newName, index: link.index, mac: plan.macText, addresses: addresses.map((a) => a.text), mtu: plan.mtu });
  const after = await listInterfaces(nl);
  const result = after.find((i) => i.hwAddr === plan.macText && i.name === newName);
  if (!result) throw notFound(`${what}: the interface disappeared after the update`);
  return result;
}

export function interfaceOf(link: Link, addresses: Address[]): PbInterface {
  return {
    device: link.name,
    name: link.name,
    IPAddresses: addresses
      .filter((a) => a.index === link.index && (a.family === AF_INET || a.family === AF_INET6))
      .map((a) => ({ family: familyName(a.family), address: formatIp(a.local), mask: String(a.prefixLength) })),
    mtu: String(link.mtu),
    hwAddr: link.address ? formatMac(link.address) : '',
    pciPath: '',
    type: link.kind,
    raw_flags: link.flags,
  };
}

export async function listInterfaces(nl: RtnetlinkClient): Promise<PbInterface[]> {
  const links = await listLinks(nl);
  const addresses = await listAddresses(nl);
  return links.map((l) => interfaceOf(l, addresses));
}

/** Kata's agent raises lo when the sandbox is created; CreateSandbox may call this. */
export async function bringLoopbackUp(nl: RtnetlinkClient): Promise<void> {
  const lo = (await listLinks(nl)).find((l) => l.flags & IFF_LOOPBACK);
  if (!lo) throw notFound('bring loopback up: no loopback interface');
  if (!(lo.flags & IFF_UP)) await setLink(nl, lo.index, { up: true }, `set ${lo.name} up`);
}
