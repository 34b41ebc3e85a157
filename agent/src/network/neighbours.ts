// AddARPNeighbors: static neighbour entries (permanent unless the request says otherwise), each
// created or replaced. All entries are checked before the first is added.
import type { Logger } from '../log/logger';
import { formatMac, parseIp, parseMac } from './addresses';
import { invalid, notFound, partiallyApplied } from './errors';
import type { RtnetlinkClient } from './netlink/client';
import { NUD_PERMANENT } from './netlink/constants';
import { addNeighbour, listLinks, type NeighbourSpec } from './netlink/operations';
import type { PbARPNeighbor } from './types';

export async function addArpNeighbors(nl: RtnetlinkClient, log: Logger, neighbours: PbARPNeighbor[]): Promise<void> {
  const links = await listLinks(nl);
  const planned = neighbours.map((n, i): NeighbourSpec & { text: string } => {
    const address = n.toIPAddress?.address ?? '';
    const where = `add ARP neighbours: ARPNeighbors[${i}] (${address || 'no address'} dev ${n.device || '?'})`;
    if (!address) throw invalid(`${where}: no toIPAddress`);
    const ip = parseIp(address);
    if (!ip) throw invalid(`${where}: bad IP address '${address}'`);
    const lladdr = n.lladdr ? parseMac(n.lladdr) : undefined;
    if (n.lladdr && !lladdr) throw invalid(`${where}: bad MAC address '${n.lladdr}' in lladdr`);
    if (!n.device) throw invalid(`${where}: no device`);
    const link = links.find((l) => l.name === n.device);
    if (!link) throw notFound(`${where}: no interface named '${n.device}'`);
    if (n.state < 0 || n.state > 0xffff) throw invalid(`${where}: bad state ${n.state}`);
    if (n.flags < 0 || n.flags > 0xff) throw invalid(`${where}: bad flags ${n.flags}`);
    const text = `${address}${lladdr ? ` lladdr ${formatMac(lladdr)}` : ''} dev ${link.name}`;
    return { text, family: ip.family, index: link.index, dst: ip.bytes, lladdr, state: n.state || NUD_PERMANENT, flags: n.flags };
  });
  const applied: string[] = [];
  for (const n of planned) {
    try {
      await addNeighbour(nl, n, `add neighbour ${n.text}`);
    } catch (err) {
      throw partiallyApplied('add ARP neighbours', err, applied);
    }
    applied.push(`added ${n.text}`);
  }
  log.info('ARP neighbours added', { neighbours: planned.map((n) => n.text) });
}
