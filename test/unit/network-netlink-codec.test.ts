// The rtnetlink codec: messages encoded then decoded, attribute alignment, malformed input, and
// real dumps the kernel produced for state made with `ip` in a throwaway network namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatIp, formatMac, parseCidr, parseIp, parseMac } from '../../agent/src/network/addresses';
import { addressFromMessage, decodeAddressMessage, encodeAddressMessage } from '../../agent/src/network/netlink/address';
import { Attributes, encodeAttribute, nestedAttribute, parseAttributes, stringAttribute, u32Attribute, u8Attribute } from '../../agent/src/network/netlink/attributes';
import { RtnetlinkClient, type DatagramSocket } from '../../agent/src/network/netlink/client';
import * as C from '../../agent/src/network/netlink/constants';
import { decodeLinkMessage, encodeLinkMessage, linkFromMessage } from '../../agent/src/network/netlink/link';
import { encodeNetlinkMessage, parseDatagram, parseErrorPayload } from '../../agent/src/network/netlink/message';
import { decodeNeighbourMessage, encodeNeighbourMessage, neighbourFromMessage } from '../../agent/src/network/netlink/neighbour';
import { decodeRouteMessage, encodeRouteMessage, routeFromMessage } from '../../agent/src/network/netlink/route';
import { TestNetns, netnsMissingReason } from '../integration/network-netns';
import { skipUnlessAvailable } from '../helpers/requirement';

describe('netlink attributes', () => {
  it('pads every value to 4 bytes but records the unpadded length', () => {
    for (const [size, padded] of [[0, 4], [1, 8], [2, 8], [3, 8], [4, 8], [5, 12], [8, 12]] as const) {
      const a = encodeAttribute(7, Buffer.alloc(size, 0xab));
      expect(a.length).toBe(padded);
      expect(a.readUInt16LE(0)).toBe(4 + size);
      expect(a.readUInt16LE(2)).toBe(7);
      expect(a.subarray(4 + size).every((b) => b === 0)).toBe(true); // padding is zeroed
    }
  });

  it('parses a run of odd-sized attributes back at their aligned offsets', () => {
    const run = Buffer.concat([u8Attribute(1, 0x42), stringAttribute(3, 'eth0'), u32Attribute(4, 1450), encodeAttribute(9, Buffer.from([1, 2, 3, 4, 5, 6]))]);
    const attrs = Attributes.parse(run);
    expect(attrs.list.map((a) => [a.type, a.value.length])).toEqual([[1, 1], [3, 5], [4, 4], [9, 6]]);
    expect(attrs.u8(1)).toBe(0x42);
    expect(attrs.string(3)).toBe('eth0');
    expect(attrs.u32(4)).toBe(1450);
    expect([...attrs.bytes(9)!]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('nests attributes, with or without NLA_F_NESTED, and strips the flag bits on parse', () => {
    const inner = [stringAttribute(C.IFLA_INFO_KIND, 'veth'), u32Attribute(5, 9)];
    for (const nestedFlag of [false, true]) {
      const outer = nestedAttribute(C.IFLA_LINKINFO, inner, { nestedFlag });
      expect(outer.readUInt16LE(2) & C.NLA_F_NESTED).toBe(nestedFlag ? C.NLA_F_NESTED : 0);
      const parsed = Attributes.parse(outer);
      expect(parsed.has(C.IFLA_LINKINFO)).toBe(true);
      expect(parsed.nested(C.IFLA_LINKINFO)!.string(C.IFLA_INFO_KIND)).toBe('veth');
      expect(parsed.nested(C.IFLA_LINKINFO)!.u32(5)).toBe(9);
    }
  });

  it('refuses an attribute whose length runs past its container', () => {
    const a = encodeAttribute(1, Buffer.alloc(8));
    a.writeUInt16LE(40, 0);
    expect(() => parseAttributes(a)).toThrow(/malformed netlink attribute at offset 0: length 40/);
    const short = encodeAttribute(1, Buffer.alloc(0));
    short.writeUInt16LE(2, 0);
    expect(() => parseAttributes(short)).toThrow(/length 2/);
  });
});

describe('netlink messages', () => {
  it('frames several messages in one datagram and splits them again', () => {
    const one = encodeNetlinkMessage({ type: C.RTM_NEWLINK, flags: C.NLM_F_MULTI, seq: 7, pid: 99 }, [Buffer.from([1, 2, 3])]);
    const two = encodeNetlinkMessage({ type: C.NLMSG_DONE, flags: C.NLM_F_MULTI, seq: 7, pid: 99 }, [Buffer.alloc(4)]);
    expect(one.length).toBe(20); // 16 + 3, padded
    expect(one.readUInt32LE(0)).toBe(19);
    const msgs = parseDatagram(Buffer.concat([one, two]));
    expect(msgs.map((m) => [m.type, m.flags, m.seq, m.pid, m.payload.length])).toEqual([
      [C.RTM_NEWLINK, C.NLM_F_MULTI, 7, 99, 3],
      [C.NLMSG_DONE, C.NLM_F_MULTI, 7, 99, 4],
    ]);
  });

  it('refuses a truncated message', () => {
    const m = encodeNetlinkMessage({ type: 16, flags: 0, seq: 1, pid: 0 }, [Buffer.alloc(16)]);
    expect(() => parseDatagram(m.subarray(0, 20))).toThrow(/malformed netlink message at offset 0: length 32/);
  });

  it('reads an NLMSG_ERROR as a positive errno and the request it answers', () => {
    const req = encodeNetlinkMessage({ type: C.RTM_NEWROUTE, flags: C.NLM_F_REQUEST | C.NLM_F_ACK, seq: 41, pid: 0 }, [Buffer.alloc(12)]);
    const errno = Buffer.alloc(4);
    errno.writeInt32LE(-17, 0);
    const [msg] = parseDatagram(encodeNetlinkMessage({ type: C.NLMSG_ERROR, flags: 0, seq: 41, pid: 5 }, [errno, req]));
    expect(parseErrorPayload(msg!)).toEqual({ errno: 17, request: { type: C.RTM_NEWROUTE, flags: C.NLM_F_REQUEST | C.NLM_F_ACK, seq: 41, pid: 0 } });
  });

  it('encodes and decodes link, address, route and neighbour messages', () => {
    const mac = Buffer.from([0x5a, 0x1c, 0x3e, 0x7f, 0x42, 0x0b]);
    const link = linkFromMessage(
      decodeLinkMessage(
        encodeLinkMessage({ index: 7, flags: C.IFF_UP | C.IFF_MULTICAST, change: C.IFF_UP, type: 1 }, [
          stringAttribute(C.IFLA_IFNAME, 'eth0'),
          u32Attribute(C.IFLA_MTU, 1450),
          encodeAttribute(C.IFLA_ADDRESS, mac),
          nestedAttribute(C.IFLA_LINKINFO, [stringAttribute(C.IFLA_INFO_KIND, 'veth')]),
        ]),
      ),
    );
    expect(link).toMatchObject({ index: 7, name: 'eth0', mtu: 1450, flags: C.IFF_UP | C.IFF_MULTICAST, kind: 'veth' });
    expect(formatMac(link.address!)).toBe('5a:1c:3e:7f:42:0b');

    const v6 = parseIp('fd00:10:244:1::5')!.bytes;
    const addr = addressFromMessage(
      decodeAddressMessage(encodeAddressMessage({ family: C.AF_INET6, prefixLength: 64, index: 7, scope: 0 }, [encodeAttribute(C.IFA_ADDRESS, v6), u32Attribute(C.IFA_FLAGS, C.IFA_F_PERMANENT | 0x200)])),
    );
    expect(addr).toMatchObject({ family: C.AF_INET6, prefixLength: 64, index: 7, flags: C.IFA_F_PERMANENT | 0x200 });
    expect(formatIp(addr.local)).toBe('fd00:10:244:1::5');

    const route = routeFromMessage(
      decodeRouteMessage(
        encodeRouteMessage({ family: C.AF_INET, dstLength: 24, table: C.RT_TABLE_MAIN, protocol: C.RTPROT_BOOT, scope: C.RT_SCOPE_LINK, type: C.RTN_UNICAST, flags: C.RTNH_F_ONLINK }, [
          encodeAttribute(C.RTA_DST, parseIp('10.244.1.0')!.bytes),
          u32Attribute(C.RTA_OIF, 7),
          encodeAttribute(C.RTA_PREFSRC, parseIp('10.244.1.5')!.bytes),
          u32Attribute(C.RTA_TABLE, 1000),
        ]),
      ),
    );
    expect(route).toMatchObject({ family: C.AF_INET, dstLength: 24, protocol: C.RTPROT_BOOT, scope: C.RT_SCOPE_LINK, type: C.RTN_UNICAST, oif: 7, flags: C.RTNH_F_ONLINK });
    expect(route.table).toBe(1000); // RTA_TABLE wins over the u8 header field
    expect(formatIp(route.dst!)).toBe('10.244.1.0');
    expect(formatIp(route.prefsrc!)).toBe('10.244.1.5');

    const neigh = neighbourFromMessage(
      decodeNeighbourMessage(encodeNeighbourMessage({ family: C.AF_INET, index: 7, state: C.NUD_PERMANENT, flags: 0x80 }, [encodeAttribute(C.NDA_DST, parseIp('10.244.1.1')!.bytes), encodeAttribute(C.NDA_LLADDR, parseMac('ee:ee:ee:ee:ee:ee')!)])),
    );
    expect(neigh).toMatchObject({ family: C.AF_INET, index: 7, state: C.NUD_PERMANENT, flags: 0x80 });
    expect(formatIp(neigh.dst!)).toBe('10.244.1.1');
    expect(formatMac(neigh.lladdr!)).toBe('ee:ee:ee:ee:ee:ee');
  });
});

describe('address text', () => {
  it('formats IPv6 as `ip` prints it (RFC 5952) and parses it back', () => {
    for (const text of ['fd00:10:244:1::5', '::', '::1', 'fe80::5818:8ff:fe2f:1', '2001:db8::1:0:0:1', '2001:db8:0:1:1:1:1:1', '1::', '::ffff:10.1.2.3']) {
      expect(formatIp(parseIp(text)!.bytes)).toBe(text);
    }
    expect(formatIp(parseIp('2001:0DB8:0000:0000:0000:0000:0000:0001')!.bytes)).toBe('2001:db8::1');
    expect(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!.bytes)).toBe('2001:db8::1:0:0:1'); // first of two equal runs
  });

  it('refuses what is not an address', () => {
    for (const bad of ['10.0.0.256', '10.0.0', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', '', 'eth0']) expect(parseIp(bad)).toBeUndefined();
    for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/2x']) expect(parseCidr(bad)).toBeUndefined();
    expect(parseCidr('10.0.0.7')).toMatchObject({ prefixLength: 32 });
    for (const bad of ['5a:1c:3e:7f:42', '5a:1c:3e:7f:42:0b:00', 'zz:1c:3e:7f:42:0b', '5a-1c-3e-7f-42-0b', '5a:1c:3e:7f:42:100']) expect(parseMac(bad)).toBeUndefined();
    expect(formatMac(parseMac('5A:1C:3E:7F:42:B')!)).toBe('5a:1c:3e:7f:42:0b');
  });
});

// The kernel cannot be made to interrupt a dump or to answer out of order on demand: a scripted
// socket stands in for it here (the real socket is exercised by the namespace tests).
class ScriptedKernel implements DatagramSocket {
  sent: Buffer[] = [];
  keepAlive: boolean[] = [];
  closed = 0;
  constructor(private readonly deliver: (d: Buffer) => void, private readonly answer: (req: { type: number; seq: number }, n: number) => Buffer[]) {}
  send(message: Buffer): void {
    this.sent.push(message);
    const [req] = parseDatagram(message);
    const replies = this.answer(req!, this.sent.length);
    queueMicrotask(() => replies.forEach((r) => this.deliver(r)));
  }
  setKeepAlive(keep: boolean): void {
    this.keepAlive.push(keep);
  }
  close(): void {
    this.closed++;
  }
}

const linkPart = (seq: number, index: number, flags = C.NLM_F_MULTI) =>
  encodeNetlinkMessage({ type: C.RTM_NEWLINK, flags, seq, pid: 0 }, [encodeLinkMessage({ index }, [stringAttribute(C.IFLA_IFNAME, `if${index}`)])]);
const done = (seq: number) => encodeNetlinkMessage({ type: C.NLMSG_DONE, flags: C.NLM_F_MULTI, seq, pid: 0 }, [Buffer.alloc(4)]);
const errorFor = (seq: number, errno: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(-errno, 0);
  return encodeNetlinkMessage({ type: C.NLMSG_ERROR, flags: 0, seq, pid: 0 }, [b]);
};

describe('rtnetlink request client', () => {
  it('collects a multipart dump, retries one the kernel marks interrupted, and lets go of the loop when idle', async () => {
    let kernel: ScriptedKernel | undefined;
    const client = new RtnetlinkClient({
      socket: (deliver) =>
        (kernel = new ScriptedKernel(deliver, (req, n) =>
          n === 1
            ? [Buffer.concat([linkPart(req.seq, 1), linkPart(req.seq, 2, C.NLM_F_MULTI | C.NLM_F_DUMP_INTR)]), done(req.seq)]
            : [Buffer.concat([linkPart(req.seq, 1), linkPart(req.seq, 2)]), linkPart(req.seq, 3), done(req.seq)],
        )),
    });
    const parts = await client.dump('list links', C.RTM_GETLINK, encodeLinkMessage({}));
    expect(parts.map((p) => linkFromMessage(decodeLinkMessage(p.payload)).name)).toEqual(['if1', 'if2', 'if3']);
    expect(kernel!.sent).toHaveLength(2);
    const [first, second] = kernel!.sent.map((s) => parseDatagram(s)[0]!);
    expect(first!.flags).toBe(C.NLM_F_REQUEST | C.NLM_F_DUMP);
    expect(second!.seq).not.toBe(first!.seq);
    expect(kernel!.keepAlive.at(-1)).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(kernel!.closed).toBe(1);
    expect(client.socketOpen).toBe(false);
  });

  it('settles concurrent requests by sequence number and names the errno of a refusal', async () => {
    const client = new RtnetlinkClient({
      // Answers arrive in reverse order of the requests.
      socket: (deliver) => {
        const queued: Buffer[] = [];
        return new ScriptedKernel(
          (d) => deliver(d),
          (req, n) => {
            queued.push(n === 1 ? errorFor(req.seq, 17) : errorFor(req.seq, 0));
            return n === 2 ? queued.reverse() : [];
          },
        );
      },
    });
    const a = client.request('add route 10.0.0.0/24 dev eth0', C.RTM_NEWROUTE, C.NLM_F_CREATE, encodeRouteMessage({}));
    const b = client.request('set eth0 up', C.RTM_SETLINK, 0, encodeLinkMessage({}));
    await expect(b).resolves.toBeUndefined();
    await expect(a).rejects.toMatchObject({ code: 'EEXIST', message: 'add route 10.0.0.0/24 dev eth0: EEXIST (file already exists)' });
  });
});

describe.skipIf(skipUnlessAvailable(netnsMissingReason))('decoding real kernel dumps', () => {
  let ns: TestNetns;
  beforeAll(async () => {
    ns = await TestNetns.create('nlcodec');
    await ns.ip('link', 'add', 'dump0', 'address', '02:11:22:33:44:55', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'dump1');
    await ns.ip('addr', 'add', '192.0.2.10/24', 'dev', 'dump0');
    await ns.ip('addr', 'add', '2001:db8:5::10/64', 'dev', 'dump0', 'nodad');
    await ns.ip('link', 'set', 'dump0', 'up');
    await ns.ip('link', 'set', 'dump1', 'up');
    await ns.ip('route', 'add', '198.51.100.0/24', 'via', '192.0.2.1', 'dev', 'dump0', 'proto', 'static');
  });
  afterAll(async () => ns?.destroy());

  const decodeAll = (hex: string[], type: number) =>
    hex.flatMap((h) => parseDatagram(Buffer.from(h, 'hex'))).filter((m) => m.type === type);

  it('links, addresses and routes as `ip -j` reports them', async () => {
    const results = await ns.calls([{ raw: 'links' }, { raw: 'addresses' }, { raw: 'routes4' }, { raw: 'routes6' }]);
    const [links, addrs, routes4, routes6] = results.map((r) => (r as { datagrams: string[] }).datagrams);

    const decodedLinks = decodeAll(links!, C.RTM_NEWLINK).map((m) => linkFromMessage(decodeLinkMessage(m.payload)));
    const ipLinks = await ns.ipJson<{ ifindex: number; ifname: string; mtu: number; address: string }[]>('link');
    expect(decodedLinks.map((l) => [l.index, l.name, l.mtu, l.address ? formatMac(l.address) : ''])).toEqual(ipLinks.map((l) => [l.ifindex, l.ifname, l.mtu, l.address]));
    expect(decodedLinks.find((l) => l.name === 'dump0')!.kind).toBe('veth');

    const decodedAddrs = decodeAll(addrs!, C.RTM_NEWADDR).map((m) => addressFromMessage(decodeAddressMessage(m.payload)));
    const ipAddrs = (await ns.ipJson<{ ifindex: number; addr_info: { local: string; prefixlen: number }[] }[]>('addr')).flatMap((l) =>
      l.addr_info.map((a) => `${l.ifindex} ${a.local}/${a.prefixlen}`),
    );
    expect(decodedAddrs.map((a) => `${a.index} ${formatIp(a.local)}/${a.prefixLength}`).sort()).toEqual(ipAddrs.sort());
    expect(ipAddrs).toContain(`${ipLinks.find((l) => l.ifname === 'dump0')!.ifindex} 2001:db8:5::10/64`);

    // `ip route` shows the main table; the dump holds every table.
    for (const [hex, family] of [[routes4!, '-4'], [routes6!, '-6']] as const) {
      const decoded = decodeAll(hex, C.RTM_NEWROUTE)
        .map((m) => routeFromMessage(decodeRouteMessage(m.payload)))
        .filter((r) => r.table === C.RT_TABLE_MAIN)
        .map((r) => `${r.dst ? `${formatIp(r.dst)}/${r.dstLength}` : 'default'} ${r.gateway ? formatIp(r.gateway) : '-'} ${r.oif}`);
      const ip = (await ns.ipJson<{ dst: string; gateway?: string; dev: string }[]>(family, 'route')).map(
        (r) => `${r.dst.includes('/') || r.dst === 'default' ? r.dst : `${r.dst}/${family === '-4' ? 32 : 128}`} ${r.gateway ?? '-'} ${ipLinks.find((l) => l.ifname === r.dev)!.ifindex}`,
      );
      expect(decoded.sort()).toEqual(ip.sort());
    }
    expect(routes4!.length).toBeGreaterThan(0);
  });
});
