// GetMetrics' Prometheus text: parsed back by a strict text-format parser written here, with
// every kata_agent_* and kata_guest_* family present and values checked against /proc.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderExposition } from '../../agent/src/metrics/exposition';
import { MetricsSource } from '../../agent/src/metrics';
import {
  meminfoItemName,
  parseDiskstats,
  parseNetDev,
  parsePidStat,
  parseProcStat,
} from '../../agent/src/metrics/proc-parse';
import { RPC_LATENCY_BUCKETS, RpcMetrics } from '../../agent/src/metrics/rpc-metrics';

// ---- a strict parser of the text exposition format 0.0.4 ----

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface ParsedFamily {
  type: string;
  help: string;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const key = text.slice(i, eq);
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) throw new Error(`bad label name "${key}" in: ${line}`);
    if (key in labels) throw new Error(`duplicate label ${key} in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let value = '';
    let j = eq + 2;
    for (;; j++) {
      if (j >= text.length) throw new Error(`unterminated label value in: ${line}`);
      const c = text[j]!;
      if (c === '"') break;
      if (c === '\n') throw new Error(`raw newline in label value: ${line}`);
      if (c === '\\') {
        const n = text[++j];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else throw new Error(`bad escape \\${n} in: ${line}`);
      } else value += c;
    }
    labels[key] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (i < text.length) throw new Error(`expected "," between labels in: ${line}`);
  }
  return labels;
}

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^-?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+)$/.test(text)) throw new Error(`bad value "${text}" in: ${line}`);
  return Number(text);
}

function familyOf(sampleName: string, families: Map<string, ParsedFamily>): string {
  if (families.has(sampleName)) return sampleName;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = sampleName.slice(0, -suffix.length);
    if (sampleName.endsWith(suffix) && families.get(base)?.type === 'histogram') return base;
  }
  throw new Error(`sample ${sampleName} has no # TYPE line before it`);
}

export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, ParsedFamily>();
  const seenSeries = new Set<string>();
  let current: string | undefined;
  let pendingHelp: { name: string; help: string } | undefined;
  for (const line of text.split('\n').slice(0, -1)) {
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const sp = rest.indexOf(' ');
      const name = rest.slice(0, sp);
      if (!NAME.test(name) || families.has(name)) throw new Error(`bad or repeated HELP: ${line}`);
      pendingHelp = { name, help: rest.slice(sp + 1).replace(/\\n/g, '\n').replace(/\\\\/g, '\\') };
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type, extra] = line.slice(7).split(' ');
      if (!name || !NAME.test(name) || families.has(name) || extra !== undefined) throw new Error(`bad or repeated TYPE: ${line}`);
      if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? '')) throw new Error(`bad type in: ${line}`);
      if (pendingHelp?.name !== name) throw new Error(`TYPE without HELP just before it: ${line}`);
      families.set(name, { type: type!, help: pendingHelp.help, samples: [] });
      current = name;
      continue;
    }
    if (line.startsWith('#') || line === '') throw new Error(`unexpected line: "${line}"`);
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    const name = brace >= 0 && brace < space ? line.slice(0, brace) : line.slice(0, space);
    const labels = brace >= 0 && brace < space ? parseLabels(line.slice(brace + 1, line.lastIndexOf('}')), line) : {};
    if (brace >= 0 && line[space - 1] !== '}') throw new Error(`bad sample: ${line}`);
    const family = familyOf(name, families);
    if (family !== current) throw new Error(`samples of ${family} are not together: ${line}`);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seenSeries.has(key)) throw new Error(`duplicate series: ${line}`);
    seenSeries.add(key);
    families.get(family)!.samples.push({ name, labels, value: parseValue(line.slice(space + 1), line) });
  }
  return families;
}

function value(families: Map<string, ParsedFamily>, family: string, labels: Record<string, string> = {}, name = family): number {
  const f = families.get(family);
  if (!f) throw new Error(`no family ${family}`);
  const s = f.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (!s) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return s.value;
}

// ---- tests ----

const AGENT_FAMILIES = [
  'kata_agent_scrape_count',
  'kata_agent_process_resident_memory_bytes',
  'kata_agent_process_virtual_memory_bytes',
  'kata_agent_process_cpu_seconds_total',
  'kata_agent_process_open_fds',
  'kata_agent_process_max_fds',
  'kata_agent_process_start_time_seconds',
  'kata_agent_threads',
  'kata_agent_total_rss',
  'kata_agent_total_vm',
  'kata_agent_proc_status',
  'kata_agent_proc_stat',
  'kata_agent_io_stat',
  'kata_agent_rpc_requests_total',
  'kata_agent_rpc_duration_seconds',
];
const GUEST_FAMILIES = [
  'kata_guest_meminfo',
  'kata_guest_vm_stat',
  'kata_guest_load',
  'kata_guest_tasks',
  'kata_guest_cpu_time',
  'kata_guest_diskstat',
  'kata_guest_netdev_stat',
];

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

describe('GetMetrics exposition from the real /proc', () => {
  it('has every family, parses strictly, and agrees with /proc', async () => {
    const rpc = new RpcMetrics();
    rpc.observe('CreateContainer', 0.003, 0);
    rpc.observe('CreateContainer', 0.2, 0);
    rpc.observe('CreateContainer', 0.0001, 5);
    rpc.observe('ExecProcess', 42, 'PERMISSION_DENIED');
    const source = new MetricsSource({ rpc });
    const families = parsePrometheusText(await source.scrape());
    for (const name of [...AGENT_FAMILIES, ...GUEST_FAMILIES]) expect(families.has(name), name).toBe(true);

    const statusRss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
    const rss = value(families, 'kata_agent_process_resident_memory_bytes');
    expect(rss).toBeGreaterThan(10 << 20);
    expect(Math.abs(rss - statusRss)).toBeLessThan(64 << 20); // the same process, read moments apart
    expect(value(families, 'kata_agent_total_rss')).toBe(rss);
    expect(value(families, 'kata_agent_process_virtual_memory_bytes')).toBeGreaterThan(rss);
    expect(value(families, 'kata_agent_process_open_fds')).toBeGreaterThan(2);
    expect(value(families, 'kata_agent_threads')).toBeGreaterThanOrEqual(1);
    expect(value(families, 'kata_agent_process_cpu_seconds_total')).toBeGreaterThan(0);
    const start = value(families, 'kata_agent_process_start_time_seconds');
    const now = Date.now() / 1000;
    expect(start).toBeLessThanOrEqual(now + 1);
    expect(start).toBeGreaterThan(now - process.uptime() - 5);
    expect(value(families, 'kata_agent_scrape_count')).toBe(1);

    const memTotalKb = /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1];
    expect(value(families, 'kata_guest_meminfo', { item: 'mem_total' })).toBe(Number(memTotalKb));
    expect(value(families, 'kata_guest_meminfo', { item: 'active_anon' })).toBeGreaterThan(0);
    expect(value(families, 'kata_guest_load', { item: 'load1' })).toBeGreaterThanOrEqual(0);
    expect(value(families, 'kata_guest_tasks', { item: 'max' })).toBeGreaterThan(1);
    expect(value(families, 'kata_guest_cpu_time', { cpu: 'total', item: 'user' })).toBeGreaterThan(0);
    expect(value(families, 'kata_guest_cpu_time', { cpu: '0', item: 'idle' })).toBeGreaterThan(0);
    expect(value(families, 'kata_guest_netdev_stat', { interface: 'lo', item: 'recv_bytes' })).toBeGreaterThanOrEqual(0);
    expect(value(families, 'kata_guest_vm_stat', { item: 'pgfault' })).toBeGreaterThan(0);
    expect(families.get('kata_guest_diskstat')!.samples.some((s) => s.labels.item === 'sectors_read')).toBe(true);

    // RPC counts by method and code; the histogram is cumulative and ends at +Inf = count.
    expect(value(families, 'kata_agent_rpc_requests_total', { method: 'CreateContainer', code: 'OK' })).toBe(2);
    expect(value(families, 'kata_agent_rpc_requests_total', { method: 'CreateContainer', code: 'NOT_FOUND' })).toBe(1);
    expect(value(families, 'kata_agent_rpc_requests_total', { method: 'ExecProcess', code: 'PERMISSION_DENIED' })).toBe(1);
    const h = 'kata_agent_rpc_duration_seconds';
    expect(value(families, h, { method: 'CreateContainer', le: '0.0005' }, `${h}_bucket`)).toBe(1);
    expect(value(families, h, { method: 'CreateContainer', le: '0.005' }, `${h}_bucket`)).toBe(2);
    expect(value(families, h, { method: 'CreateContainer', le: '0.25' }, `${h}_bucket`)).toBe(3);
    expect(value(families, h, { method: 'CreateContainer', le: '+Inf' }, `${h}_bucket`)).toBe(3);
    expect(value(families, h, { method: 'CreateContainer' }, `${h}_count`)).toBe(3);
    expect(value(families, h, { method: 'CreateContainer' }, `${h}_sum`)).toBeCloseTo(0.2031, 6);
    expect(value(families, h, { method: 'ExecProcess', le: String(RPC_LATENCY_BUCKETS.at(-1)) }, `${h}_bucket`)).toBe(0);
    expect(value(families, h, { method: 'ExecProcess', le: '+Inf' }, `${h}_bucket`)).toBe(1);

    expect(value(parsePrometheusText(await source.scrape()), 'kata_agent_scrape_count')).toBe(2);
  });

  it('gives calls that come while a page is being made that page (one scrape for a burst), and makes a new one after', async () => {
    const source = new MetricsSource({ rpc: new RpcMetrics() });
    const burst = await Promise.all(Array.from({ length: 20 }, () => source.scrape()));
    expect(new Set(burst).size).toBe(1);
    expect(value(parsePrometheusText(burst[0]!), 'kata_agent_scrape_count')).toBe(1);
    expect(value(parsePrometheusText(await source.scrape()), 'kata_agent_scrape_count')).toBe(2);
  });

  it('leaves out the families of /proc files that are missing, and keeps the rest', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'metrics-proc-'));
    temps.push(root);
    writeFileSync(path.join(root, 'meminfo'), 'MemTotal:        2013204 kB\nActive(anon):      1000 kB\nHugePages_Total:       0\n');
    writeFileSync(path.join(root, 'loadavg'), '0.08 0.03 0.01 2/87 1234\n');
    mkdirSync(path.join(root, 'net'));
    const families = parsePrometheusText(await new MetricsSource({ rpc: new RpcMetrics(), procRoot: root }).scrape());
    expect(value(families, 'kata_guest_meminfo', { item: 'mem_total' })).toBe(2013204);
    expect(value(families, 'kata_guest_meminfo', { item: 'active_anon' })).toBe(1000);
    expect(value(families, 'kata_guest_meminfo', { item: 'hugepages_total' })).toBe(0);
    expect(value(families, 'kata_guest_load', { item: 'load15' })).toBe(0.01);
    expect(value(families, 'kata_guest_tasks', { item: 'cur' })).toBe(2);
    expect(families.has('kata_guest_diskstat')).toBe(false);
    expect(families.has('kata_agent_process_resident_memory_bytes')).toBe(false);
    expect(families.has('kata_agent_rpc_requests_total')).toBe(false); // no calls yet
    expect(value(families, 'kata_agent_scrape_count')).toBe(1);
  });
});

describe('exposition text', () => {
  it('escapes label values and help text so that they parse back unchanged', () => {
    const tricky = 'a "quoted" \\ back\nslash';
    const text = renderExposition([
      { name: 'x_total', type: 'counter', help: 'line one\nline \\ two', samples: [{ labels: { method: tricky, code: 'OK' }, value: 3 }] },
      { name: 'empty', type: 'gauge', help: 'no samples: left out', samples: [] },
      { name: 'y', type: 'gauge', help: 'specials', samples: [{ labels: { k: 'inf' }, value: Infinity }, { labels: { k: 'nan' }, value: NaN }, { labels: { k: 'big' }, value: '18446744073709551615' }] },
    ]);
    const families = parsePrometheusText(text);
    expect(families.get('x_total')!.help).toBe('line one\nline \\ two');
    expect(families.get('x_total')!.samples[0]!.labels.method).toBe(tricky);
    expect(families.has('empty')).toBe(false);
    expect(value(families, 'y', { k: 'inf' })).toBe(Infinity);
    expect(Number.isNaN(value(families, 'y', { k: 'nan' }))).toBe(true);
    expect(text).toContain('y{k="big"} 18446744073709551615\n'); // 64-bit counters keep every digit
    expect(() => renderExposition([{ name: 'bad-name', type: 'gauge', help: '', samples: [{ value: 1 }] }])).toThrow(/not valid/);
  });
});

describe('/proc parsers', () => {
  it('reads diskstats of every kernel generation (14, 18 and 20 fields)', () => {
    const rows = parseDiskstats(
      [
        ' 253       0 vda 100 2 3000 40 50 6 7000 80 0 90 120',
        ' 253      16 vdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15',
        '   7       0 loop0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17',
      ].join('\n'),
    );
    expect(rows.map((r) => [r.disk, r.values.length])).toEqual([['vda', 11], ['vdb', 15], ['loop0', 17]]);
    expect(rows[0]!.values[2]).toBe('3000');
  });

  it('reads net/dev with a counter glued to the interface name', () => {
    const text = 'Inter-|   Receive\n face |bytes\n  eth0:12345678901 10 0 0 0 0 0 0 555 6 0 0 0 0 0 0\n    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n';
    expect(parseNetDev(text)).toEqual([
      { iface: 'eth0', values: ['12345678901', '10', '0', '0', '0', '0', '0', '0', '555', '6', '0', '0', '0', '0', '0', '0'] },
      { iface: 'lo', values: ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15', '16'] },
    ]);
  });

  it('reads /proc/<pid>/stat when the command name has spaces and parentheses', () => {
    const f = parsePidStat('42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 5 0 12345 1000 50');
    expect(f[0]).toBe('S'); // field 3
    expect(f[14 - 3]).toBe('7'); // utime
    expect(f[22 - 3]).toBe('12345'); // starttime
  });

  it('names /proc/stat CPUs and meminfo items the way Kata does', () => {
    const s = parseProcStat('cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\ncpu12 1 1 1 1 1 1 1 1 0 0\nintr 1 2\nbtime 1700000000\n');
    expect(s.cpus.map((c) => c.cpu)).toEqual(['total', '0', '12']);
    expect(s.bootTimeSeconds).toBe(1700000000);
    const names = ['MemTotal', 'Active(anon)', 'SReclaimable', 'KReclaimable', 'DirectMap4k', 'AnonHugePages', 'Committed_AS', 'VmallocUsed', 'HugePages_Rsvd', 'Percpu', 'PageTables', 'NFS_Unstable', 'CmaFree'];
    expect(names.map(meminfoItemName)).toEqual([
      'mem_total', 'active_anon', 's_reclaimable', 'k_reclaimable', 'direct_map_4k', 'anon_hugepages', 'committed_as', 'vmalloc_used', 'hugepages_rsvd', 'per_cpu', 'page_tables', 'nfs_unstable', 'cma_free',
    ]);
  });
});
