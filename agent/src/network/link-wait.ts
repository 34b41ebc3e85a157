// Waiting for a hot-plugged NIC: the runtime may send UpdateInterface (with the NIC's PCI
// path) before the guest kernel has created the link. We listen to the kernel's link
// notifications (RTMGRP_LINK) first, then look at the current links, so a link that appears
// in between is not missed; no polling.
import { NETLINK_ROUTE, NetlinkSocket } from '../native/netlink';
import { formatMac } from './addresses';
import { notFound } from './errors';
import type { RtnetlinkClient } from './netlink/client';
import { RTM_NEWLINK, RTMGRP_LINK } from './netlink/constants';
import { decodeLinkMessage, linkFromMessage, type Link } from './netlink/link';
import { parseDatagram } from './netlink/message';
import { listLinks } from './netlink/operations';

export type LinkNotifications = (onDatagram: (d: Buffer) => void, onError: (e: Error) => void) => { close(): void; setKeepAlive(keep: boolean): void };

const linkGroupSocket: LinkNotifications = (onDatagram, onError) => new NetlinkSocket(NETLINK_ROUTE, onDatagram, onError, RTMGRP_LINK);

export async function waitForLinkByMac(
  nl: RtnetlinkClient,
  mac: Buffer,
  opts: { timeoutMs: number; what: string; onWait?: () => void; subscribe?: LinkNotifications },
): Promise<Link> {
  let settle: ((link: Link | Error) => void) | undefined;
  const appeared = new Promise<Link>((resolve, reject) => {
    settle = (r) => (r instanceof Error ? reject(r) : resolve(r));
  });
  const socket = (opts.subscribe ?? linkGroupSocket)(
    (datagram) => {
      try {
        for (const m of parseDatagram(datagram)) {
          if (m.type !== RTM_NEWLINK) continue;
          const link = linkFromMessage(decodeLinkMessage(m.payload));
          if (link.address?.equals(mac)) settle?.(link);
        }
      } catch (err) {
        settle?.(err as Error);
      }
    },
    (err) => settle?.(err),
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    socket.setKeepAlive(true);
    const present = (await listLinks(nl)).find((l) => l.address?.equals(mac));
    if (present) return present;
    opts.onWait?.();
    timer = setTimeout(
      () => settle?.(notFound(`${opts.what}: no interface with MAC address ${formatMac(mac)} appeared within ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    return await appeared;
  } finally {
    clearTimeout(timer);
    settle = undefined;
    socket.close();
  }
}
