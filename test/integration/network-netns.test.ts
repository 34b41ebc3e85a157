// The network handlers for real, inside a network namespace each test file creates (veth pairs
// made with `ip -n`, both ends inside it; the namespace is deleted in afterAll). Requests go
// through the schema as on the wire; what the kernel holds is checked with `ip -j`.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../agent/src/ttrpc/status';
import { TestNetns, failed, netnsMissingReason, ok } from './network-netns';
import { skipUnlessAvailable } from '../helpers/requirement';
import { KATA_FIXTURES as FIXTURES } from '../fixtures';

const fixture = (name: string) => readFileSync(`${FIXTURES}/${name}.bin`);
const FIXTURE_MAC = '5a:1c:3e:7f:42:0b';

interface IpAddr {
  ifname: string;
  mtu: number;
  address: string;
  flags: string[];
  addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
}

/** The routes `ip` shows, in the form ListRoutes gives them. */
async function ipRoutes(ns: TestNetns): Promise<string[]> {
  const out: string[] = [];
  for (const [flag, full] of [['-4', 32], ['-6', 128]] as const) {
    for (const r of await ns.ipJson<IpRoute[]>(flag, 'route', 'show', 'table', 'main')) {
      const dest = r.dst === 'default' ? '' : r.dst.includes('/') ? r.dst : `${r.dst}/${full}`;
      out.push(`${dest}|${r.gateway ?? ''}|${r.dev}|${r.prefsrc ?? ''}`);
    }
  }
  return out.sort();
}

const routeKey = (r: { dest: string; gateway: string; device: string; source: string }) => `${r.dest}|${r.gateway}|${r.device}|${r.source}`;

/** Everything a failed request must leave alone. */
async function snapshot(ns: TestNetns): Promise<string> {
  const parts = await Promise.all([ns.ip('-j', 'link'), ns.ip('-j', 'addr'), ns.ip('-j', '-4', 'route', 'show', 'table', 'all'), ns.ip('-j', '-6', 'route', 'show', 'table', 'all'), ns.ip('-j', 'neigh')]);
  // Interface statistics and address lifetimes move on their own; drop them.
  return parts.map((p) => p.replace(/"(valid_life_time|preferred_life_time|stats64?)":("?)[^,}]*\2/g, '')).join('\n');
}

const skipNetns = skipUnlessAvailable(netnsMissingReason);

describe.skipIf(skipNetns)('network over rtnetlink in a network namespace', () => {
  let ns: TestNetns;

  beforeAll(async () => {
    ns = await TestNetns.create('netit');
    // No duplicate address detection: addresses are final at once, so state only changes when we change it.
    await ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    // The fixture's NIC (found by MAC) and its peer; a second pair for the other cases.
    await ns.ip('link', 'add', 'vk0', 'address', FIXTURE_MAC, 'type', 'veth', 'peer', 'name', 'vk0-peer');
    await ns.ip('link', 'add', 'vt0', 'address', '02:00:00:00:10:01', 'type', 'veth', 'peer', 'name', 'vt0-peer', 'address', '02:00:00:00:10:02');
    for (const peer of ['vk0-peer', 'vt0-peer']) await ns.ip('link', 'set', peer, 'up');
  });

  it('brings the loopback interface up (as CreateSandbox does)', async () => {
    expect((await ns.ipJson<IpAddr[]>('link', 'show', 'dev', 'lo'))[0]!.flags).not.toContain('UP');
    ok((await ns.calls([{ local: 'bringLoopbackUp' }]))[0]!);
    expect((await ns.ipJson<IpAddr[]>('link', 'show', 'dev', 'lo'))[0]!.flags).toContain('UP');
  });

  afterAll(async () => ns?.destroy());

  it('applies the Kata runtime fixtures as sent: interface, routes, ARP neighbour', async () => {
    const [iface, routes, neighbours, listed, listedRoutes] = await ns.calls([
      { method: 'UpdateInterface', bin: fixture('update-interface').toString('base64') },
      { method: 'UpdateRoutes', bin: fixture('update-routes').toString('base64') },
      { method: 'AddARPNeighbors', bin: fixture('add-arp-neighbors').toString('base64') },
      { method: 'ListInterfaces' },
      { method: 'ListRoutes' },
    ]);
    // UpdateInterface answers with the interface as it now is.
    expect(ok(iface!)).toMatchObject({ name: 'eth0', hwAddr: FIXTURE_MAC, mtu: '1450', type: 'veth' });
    expect(ok(iface!).IPAddresses).toEqual(
      expect.arrayContaining([
        { family: 'v4', address: '10.244.1.5', mask: '24' },
        { family: 'v6', address: 'fd00:10:244:1::5', mask: '64' },
      ]),
    );
    const [eth0] = await ns.ipJson<IpAddr[]>('addr', 'show', 'dev', 'eth0');
    expect(eth0).toMatchObject({ ifname: 'eth0', mtu: 1450, address: FIXTURE_MAC });
    expect(eth0!.flags).toContain('UP');
    expect(eth0!.flags).not.toContain('NOARP');
    expect(eth0!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(expect.arrayContaining(['10.244.1.5/24', 'fd00:10:244:1::5/64']));

    // UpdateRoutes answers with the table as it now is; `ip` agrees.
    const table = ok(routes!).Routes as { dest: string; gateway: string; device: string; source: string; scope: number; family: string }[];
    expect(table).toEqual(
      expect.arrayContaining([
        { dest: '10.244.1.0/24', gateway: '', device: 'eth0', source: '10.244.1.5', scope: 253, family: 'v4', flags: 0 },
        { dest: '', gateway: '10.244.1.1', device: 'eth0', source: '', scope: 0, family: 'v4', flags: 0 },
        expect.objectContaining({ dest: 'fd00:10:244:1::/64', device: 'eth0', family: 'v6' }),
      ]),
    );
    expect(table.map(routeKey).sort()).toEqual(await ipRoutes(ns));
    const [gw] = await ns.ipJson<IpRoute[]>('-d', 'route', 'show', 'default');
    expect(gw).toMatchObject({ gateway: '10.244.1.1', dev: 'eth0', protocol: 'boot' });

    expect(ok(neighbours!)).toEqual({});
    const neigh = await ns.ipJson<{ dst: string; dev: string; lladdr: string; state: string[] }[]>('neigh', 'show', 'dev', 'eth0');
    expect(neigh).toEqual([expect.objectContaining({ dst: '10.244.1.1', lladdr: 'ee:ee:ee:ee:ee:ee', state: ['PERMANENT'] })]);

    // The listings equal what `ip` reports.
    const ipLinks = await ns.ipJson<IpAddr[]>('addr');
    const interfaces = ok(listed!).Interfaces as { name: string; hwAddr: string; mtu: string; IPAddresses: { address: string; mask: string }[] }[];
    expect(interfaces.map((i) => [i.name, i.hwAddr, Number(i.mtu), i.IPAddresses.map((a) => `${a.address}/${a.mask}`).sort()])).toEqual(
      ipLinks.map((l) => [l.ifname, l.address, l.mtu, l.addr_info.map((a) => `${a.local}/${a.prefixlen}`).sort()]),
    );
    expect((ok(listedRoutes!).Routes as typeof table).map(routeKey).sort()).toEqual(await ipRoutes(ns));
  });

  it('sets addresses, MTU and routes (IPv4 and IPv6 gateways) and lists them back equal', async () => {
    const request = {
      interface: {
        name: 'net1',
        hwAddr: '02:00:00:00:10:01',
        mtu: '1380',
        IPAddresses: [
          { address: '172.30.0.2', mask: '16' },
          { address: '172.31.9.2', mask: '24' },
          { family: 'v6', address: '2001:db8:77::2', mask: '64' },
        ],
      },
    };
    const [iface, routes] = await ns.calls([
      { method: 'UpdateInterface', json: request },
      {
        method: 'UpdateRoutes',
        json: {
          routes: {
            Routes: [
              // Gateways listed first on purpose: the agent adds link routes before them.
              { dest: '192.168.50.0/24', gateway: '172.30.0.1', device: 'net1' },
              { dest: '2001:db8:99::/48', gateway: '2001:db8:77::1', device: 'net1', family: 'v6' },
              { dest: '172.30.0.0/16', device: 'net1', source: '172.30.0.2', scope: 253 },
              { dest: '10.10.10.10/32', device: 'net1', scope: 253 },
              // A gateway outside every subnet of the link: only reachable as RTNH_F_ONLINK.
              { dest: '192.168.77.0/24', gateway: '10.99.99.1', device: 'net1', flags: 4 },
            ],
          },
        },
      },
    ]);
    expect(ok(iface!)).toMatchObject({ name: 'net1', mtu: '1380', hwAddr: '02:00:00:00:10:01' });
    const [net1] = await ns.ipJson<IpAddr[]>('addr', 'show', 'dev', 'net1');
    expect(net1!.mtu).toBe(1380);
    const requested = ['172.30.0.2/16', '172.31.9.2/24', '2001:db8:77::2/64'];
    expect(net1!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(expect.arrayContaining(requested));
    expect(ok(iface!).IPAddresses.map((a: { address: string; mask: string }) => `${a.address}/${a.mask}`).sort()).toEqual(net1!.addr_info.map((a) => `${a.local}/${a.prefixlen}`).sort());

    const table = (ok(routes!).Routes as { dest: string; gateway: string; device: string; source: string }[]).map(routeKey);
    expect(table).toEqual(
      expect.arrayContaining(['192.168.50.0/24|172.30.0.1|net1|', '2001:db8:99::/48|2001:db8:77::1|net1|', '172.30.0.0/16||net1|172.30.0.2', '10.10.10.10/32||net1|']),
    );
    // The earlier test's boot routes on eth0 (the default route) were replaced; its kernel routes stay.
    expect(table).not.toContain('|10.244.1.1|eth0|');
    expect(table).toContain('10.244.1.0/24||eth0|10.244.1.5');
    expect(table.sort()).toEqual(await ipRoutes(ns));
    const onlink = (ok(routes!).Routes as { dest: string; flags: number }[]).find((r) => r.dest === '192.168.77.0/24');
    expect(onlink?.flags).toBe(4);
    const [shown] = await ns.ipJson<{ flags: string[] }[]>('-4', 'route', 'show', '192.168.77.0/24');
    expect(shown!.flags).toContain('onlink');
  });

  it('swaps names with a link that already has the requested name', async () => {
    await ns.ip('link', 'add', 'swapA', 'address', '02:00:00:00:20:01', 'type', 'veth', 'peer', 'name', 'taken0', 'address', '02:00:00:00:20:02');
    await ns.ip('link', 'set', 'taken0', 'up');
    const [r] = await ns.calls([{ method: 'UpdateInterface', json: { interface: { name: 'taken0', hwAddr: '02:00:00:00:20:01' } } }]);
    expect(ok(r!)).toMatchObject({ name: 'taken0', hwAddr: '02:00:00:00:20:01' });
    const [a] = await ns.ipJson<IpAddr[]>('link', 'show', 'dev', 'taken0');
    const [b] = await ns.ipJson<IpAddr[]>('link', 'show', 'dev', 'swapA');
    expect(a!.address).toBe('02:00:00:00:20:01');
    expect(b!.address).toBe('02:00:00:00:20:02');
    expect(b!.flags).toContain('UP'); // the other link is back up under its new name
  });

  it('waits for a hot-plugged NIC (request with a pciPath) to appear, then configures it', async () => {
    const mac = '02:00:00:00:30:01';
    let created: Promise<string> | undefined;
    const [r] = await ns.calls([{ method: 'UpdateInterface', json: { interface: { name: 'hot0', hwAddr: mac, pciPath: '02/00', IPAddresses: [{ address: '10.77.0.2', mask: '24' }] } } }], {
      // The NIC "arrives" only once the agent says it is waiting for it.
      onLog: (entry) => {
        if (entry.msg === 'waiting for a hot-plugged interface') created ??= ns.ip('link', 'add', 'hotplugged', 'address', mac, 'type', 'veth', 'peer', 'name', 'hot0-peer');
      },
    });
    expect(created).toBeDefined();
    await created;
    expect(ok(r!)).toMatchObject({ name: 'hot0', hwAddr: mac, IPAddresses: [{ family: 'v4', address: '10.77.0.2', mask: '24' }] });
    const [hot0] = await ns.ipJson<IpAddr[]>('addr', 'show', 'dev', 'hot0');
    expect(hot0!.flags).toContain('UP');
  });

  it('gives up on a hot-plugged NIC that does not appear within the hotplug timeout', async () => {
    const started = Date.now();
    const [r] = await ns.calls([{ method: 'UpdateInterface', json: { interface: { name: 'ghost0', hwAddr: '02:00:00:00:40:01', pciPath: '03/00' } } }], {
      env: { NET_HOTPLUG_TIMEOUT_MS: '300' },
    });
    const err = failed(r!);
    expect(err.code).toBe(Code.NOT_FOUND);
    expect(err.message).toMatch(/PCI path 03\/00\): no interface with MAC address 02:00:00:00:40:01 appeared within 300 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('rejects a bad MAC, bad CIDR, bad address or a missing interface before changing anything', async () => {
    const before = await snapshot(ns);
    const cases: [string, unknown, Code, RegExp][] = [
      ['UpdateInterface', { interface: { name: 'x', hwAddr: '5a:1c:3e:7f:42' } }, Code.INVALID_ARGUMENT, /bad MAC address '5a:1c:3e:7f:42' in hwAddr/],
      ['UpdateInterface', { interface: { name: 'x', hwAddr: 'zz:1c:3e:7f:42:0b' } }, Code.INVALID_ARGUMENT, /bad MAC address 'zz:1c:3e:7f:42:0b'/],
      // The first address is fine; the second is not: nothing may be applied.
      ['UpdateInterface', { interface: { name: 'eth0', hwAddr: FIXTURE_MAC, IPAddresses: [{ address: '10.9.9.9', mask: '24' }, { address: '10.9.9.10', mask: '33' }] } }, Code.INVALID_ARGUMENT, /IPAddresses\[1\]: bad prefix length '33' for 10\.9\.9\.10/],
      ['UpdateInterface', { interface: { name: 'eth0', hwAddr: FIXTURE_MAC, IPAddresses: [{ address: '10.9.9.300', mask: '24' }] } }, Code.INVALID_ARGUMENT, /IPAddresses\[0\]: bad IP address '10\.9\.9\.300'/],
      ['UpdateInterface', { interface: { name: 'eth9', hwAddr: '02:de:ad:be:ef:00', IPAddresses: [{ address: '10.9.9.9', mask: '24' }] } }, Code.NOT_FOUND, /no interface has MAC address 02:de:ad:be:ef:00/],
      ['UpdateInterface', { interface: { name: 'a/b', hwAddr: FIXTURE_MAC } }, Code.INVALID_ARGUMENT, /bad interface name 'a\/b'/],
      ['UpdateInterface', { interface: { name: 'eth0', hwAddr: FIXTURE_MAC, pciPath: '02/zz' } }, Code.INVALID_ARGUMENT, /bad pciPath: .*"zz"/],
      ['UpdateInterface', {}, Code.INVALID_ARGUMENT, /carries no interface/],
      ['UpdateRoutes', {}, Code.INVALID_ARGUMENT, /carries no routes/],
      ['AddARPNeighbors', {}, Code.INVALID_ARGUMENT, /carries no neighbours/],
      ['UpdateRoutes', { routes: { Routes: [{ dest: '10.20.0.0/16', device: 'eth0', scope: 253 }, { dest: '10.30.0.0/40', device: 'eth0' }] } }, Code.INVALID_ARGUMENT, /Routes\[1\] \(10\.30\.0\.0\/40 dev eth0\): bad destination '10\.30\.0\.0\/40'/],
      ['UpdateRoutes', { routes: { Routes: [{ dest: '10.20.0.0/16', device: 'nope0' }] } }, Code.NOT_FOUND, /Routes\[0\] .*no interface named 'nope0'/],
      ['UpdateRoutes', { routes: { Routes: [{ gateway: '10.244.1', device: 'eth0' }] } }, Code.INVALID_ARGUMENT, /bad gateway address '10\.244\.1'/],
      ['UpdateRoutes', { routes: { Routes: [{ dest: 'fd00::/64', gateway: '10.244.1.1', device: 'eth0' }] } }, Code.INVALID_ARGUMENT, /mixes IPv4 and IPv6/],
      ['UpdateRoutes', { routes: { Routes: [{ dest: '10.20.0.0/16', device: 'eth0', flags: 1 }] } }, Code.INVALID_ARGUMENT, /flags 0x1 \(only RTNH_F_ONLINK/],
      ['AddARPNeighbors', { neighbors: { ARPNeighbors: [{ toIPAddress: { address: '10.244.1.7' }, device: 'eth0', lladdr: 'ee:ee:ee:ee:ee' }] } }, Code.INVALID_ARGUMENT, /bad MAC address 'ee:ee:ee:ee:ee' in lladdr/],
      ['AddARPNeighbors', { neighbors: { ARPNeighbors: [{ toIPAddress: { address: '10.244.1.7' }, device: 'nope0', lladdr: 'ee:ee:ee:ee:ee:01' }] } }, Code.NOT_FOUND, /no interface named 'nope0'/],
    ];
    const results = await ns.calls(cases.map(([method, json]) => ({ method, json })));
    results.forEach((r, i) => {
      const [method, , code, message] = cases[i]!;
      const err = failed(r);
      expect({ method, code: err.code }).toEqual({ method, code });
      expect(err.message).toMatch(message);
    });
    expect(await snapshot(ns)).toBe(before);
  });

  it('replaces primary and secondary addresses alike', async () => {
    await ns.ip('link', 'add', 'sec0', 'address', '02:00:00:00:50:01', 'type', 'veth', 'peer', 'name', 'sec0-peer');
    for (const a of ['10.66.0.2/24', '10.66.0.3/24', '10.66.0.4/24']) await ns.ip('addr', 'add', a, 'dev', 'sec0');
    const [r] = await ns.calls([{ method: 'UpdateInterface', json: { interface: { name: 'sec0', hwAddr: '02:00:00:00:50:01', IPAddresses: [{ address: '10.67.0.2', mask: '24' }] } } }]);
    expect(ok(r!).IPAddresses.filter((a: { family: string }) => a.family === 'v4')).toEqual([{ family: 'v4', address: '10.67.0.2', mask: '24' }]);
    const [sec0] = await ns.ipJson<IpAddr[]>('-4', 'addr', 'show', 'dev', 'sec0');
    expect(sec0!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.67.0.2/24']);
  });

  it('says what was applied when the kernel refuses an interface change midway', async () => {
    await ns.ip('link', 'add', 'mtu0', 'address', '02:00:00:00:60:01', 'type', 'veth', 'peer', 'name', 'mtu0-peer');
    const [r] = await ns.calls([{ method: 'UpdateInterface', json: { interface: { name: 'mtu0', hwAddr: '02:00:00:00:60:01', mtu: '70000', IPAddresses: [{ address: '10.88.0.2', mask: '24' }] } } }]);
    const err = failed(r!);
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toMatch(/^update interface 02:00:00:00:60:01 \(mtu0\): set mtu0 mtu 70000, arp on, up: EINVAL \(invalid argument\)/);
    expect(err.message).toMatch(/already applied: added 10\.88\.0\.2\/24 to mtu0\)$/);
  });

  it('says what was applied when the kernel refuses a change midway', async () => {
    const [r] = await ns.calls([
      {
        method: 'UpdateRoutes',
        json: { routes: { Routes: [{ dest: '10.40.0.0/16', device: 'eth0', scope: 253 }, { dest: '10.50.0.0/16', gateway: '10.99.0.1', device: 'eth0' }] } },
      },
    ]);
    const err = failed(r!);
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toMatch(/add route 10\.50\.0\.0\/16 via 10\.99\.0\.1 dev eth0: ENETUNREACH/);
    expect(err.message).toMatch(/already applied: .*added 10\.40\.0\.0\/16 dev eth0/);
    const kept = await ns.ipJson<IpRoute[]>('route', 'show', '10.40.0.0/16');
    expect(kept).toHaveLength(1);
  });
});

describe.skipIf(skipNetns)('iptables in a network namespace', () => {
  let ns: TestNetns;
  beforeAll(async () => {
    ns = await TestNetns.create('iptit');
  });
  afterAll(async () => ns?.destroy());

  const rules = (chain: string, comment: string) =>
    ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', `:${chain} - [0:0]`, `-A INPUT -j ${chain}`, `-A ${chain} -p tcp -m tcp --dport 8080 -m comment --comment ${comment} -j DROP`, 'COMMIT', ''].join('\n');

  it('restores rules and saves them back, IPv4 and IPv6 separately', async () => {
    const [set4, set6, get4, get6] = await ns.calls([
      { method: 'SetIPTables', json: { data: Buffer.from(rules('KATA4', 'v4rule')).toString('base64') } },
      { method: 'SetIPTables', json: { is_ipv6: true, data: Buffer.from(rules('KATA6', 'v6rule')).toString('base64') } },
      { method: 'GetIPTables', json: {} },
      { method: 'GetIPTables', json: { is_ipv6: true } },
    ]);
    expect(ok(set4!)).toEqual({ data: '' });
    expect(ok(set6!)).toEqual({ data: '' });
    const saved4 = ok<{ data: string }>(get4!).data;
    const saved6 = ok<{ data: string }>(get6!).data;
    expect(saved4).toContain(':FORWARD DROP');
    expect(saved4).toContain('-A KATA4 -p tcp -m tcp --dport 8080 -m comment --comment v4rule -j DROP');
    expect(saved4).not.toContain('KATA6');
    expect(saved6).toContain('-A KATA6 -p tcp -m tcp --dport 8080 -m comment --comment v6rule -j DROP');
    // What the namespace's own iptables-save shows.
    expect(await ns.exec('iptables-save', [])).toContain('-A INPUT -j KATA4');
  });

  it('rejects rules iptables-restore cannot parse, leaving the rules as they were', async () => {
    const before = await ns.exec('iptables-save', ['-t', 'filter']);
    const [r] = await ns.calls([{ method: 'SetIPTables', json: { data: Buffer.from('*filter\n-A NOSUCHCHAIN -j DROP\nCOMMIT\n').toString('base64') } }]);
    const err = failed(r!);
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toMatch(/^iptables-restore failed \(exit status \d+\): /);
    const strip = (s: string) => s.replace(/^#.*\n/gm, '');
    expect(strip(await ns.exec('iptables-save', ['-t', 'filter']))).toBe(strip(before));
  });
});
