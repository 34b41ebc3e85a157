// StatsContainer from the container's cgroup v2 files and the guest's /proc/net/dev. Files a
// kernel or cgroup lacks (a controller not enabled) leave their figures at zero.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BlkioStatsEntry, CgroupStats, NetworkStats } from '../proto/messages.generated';


async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** "key value" lines (cpu.stat, memory.stat, memory.events) as bigint values. */
export function parseFlatKeyed(text: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v && /^\d+$/.test(v)) out.set(k, BigInt(v));
  }
  return out;
}

/** A single number, with "max" (no limit) as 0 the way Kata reports it. */
function parseSingle(text: string | undefined): bigint {
  const t = (text ?? '').trim();
  return /^\d+$/.test(t) ? BigInt(t) : 0n;
}

const s = (v: bigint | undefined): string => String(v ?? 0n);

function blkioEntries(text: string | undefined): { bytes: BlkioStatsEntry[]; ios: BlkioStatsEntry[] } {
  const bytes: BlkioStatsEntry[] = [];
  const ios: BlkioStatsEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...fields] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const kv = new Map(fields.map((f) => f.split('=') as [string, string]));
    const entry = (op: string, value: string | undefined) => ({ major: m[1], minor: m[2], op, value: value ?? '0' });
    bytes.push(entry('Read', kv.get('rbytes')), entry('Write', kv.get('wbytes')));
    ios.push(entry('Read', kv.get('rios')), entry('Write', kv.get('wios')));
  }
  return { bytes, ios };
}

export async function cgroupStats(cgroupRoot: string, cgroupsPath: string): Promise<CgroupStats> {
  const dir = path.join(cgroupRoot, cgroupsPath);
  const f = (name: string) => readText(path.join(dir, name));
  const [cpuStat, memCurrent, memMax, memPeak, memStat, memEvents, swapCurrent, swapMax, pidsCurrent, pidsMax, ioStat] = await Promise.all([
    f('cpu.stat'),
    f('memory.current'),
    f('memory.max'),
    f('memory.peak'),
    f('memory.stat'),
    f('memory.events'),
    f('memory.swap.current'),
    f('memory.swap.max'),
    f('pids.current'),
    f('pids.max'),
    f('io.stat'),
  ]);
  const cpu = parseFlatKeyed(cpuStat);
  const memStats = parseFlatKeyed(memStat);
  const events = parseFlatKeyed(memEvents);
  const usec = (k: string) => String((cpu.get(k) ?? 0n) * 1000n);
  const io = blkioEntries(ioStat);
  return {
    cpu_stats: {
      cpu_usage: {
        total_usage: usec('usage_usec'),
        percpu_usage: [],
        usage_in_kernelmode: usec('system_usec'),
        usage_in_usermode: usec('user_usec'),
      },
      throttling_data: {
        periods: s(cpu.get('nr_periods')),
        throttled_periods: s(cpu.get('nr_throttled')),
        throttled_time: usec('throttled_usec'),
      },
    },
    memory_stats: {
      cache: s(memStats.get('file')),
      usage: { usage: s(parseSingle(memCurrent)), max_usage: s(parseSingle(memPeak)), failcnt: s(events.get('max')), limit: s(parseSingle(memMax)) },
      swap_usage: { usage: s(parseSingle(swapCurrent)), max_usage: '0', failcnt: '0', limit: s(parseSingle(swapMax)) },
      kernel_usage: { usage: s(memStats.get('kernel')), max_usage: '0', failcnt: '0', limit: '0' },
      use_hierarchy: true,
      stats: Object.fromEntries([...memStats].map(([k, v]) => [k, String(v)])),
    },
    pids_stats: { current: s(parseSingle(pidsCurrent)), limit: s(parseSingle(pidsMax)) },
    blkio_stats: {
      io_service_bytes_recursive: io.bytes,
      io_serviced_recursive: io.ios,
      io_queued_recursive: [],
      io_service_time_recursive: [],
      io_wait_time_recursive: [],
      io_merged_recursive: [],
      io_time_recursive: [],
      sectors_recursive: [],
    },
    hugetlb_stats: {},
  };
}

/** Interfaces of the guest network namespace (the one every container shares). */
export async function networkStats(procNetDev = '/proc/net/dev'): Promise<NetworkStats[]> {
  const text = (await readText(procNetDev)) ?? '';
  const out: NetworkStats[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/);
    out.push({
      name: m[1]!.trim(),
      rx_bytes: v[0] ?? '0',
      rx_packets: v[1] ?? '0',
      rx_errors: v[2] ?? '0',
      rx_dropped: v[3] ?? '0',
      tx_bytes: v[8] ?? '0',
      tx_packets: v[9] ?? '0',
      tx_errors: v[10] ?? '0',
      tx_dropped: v[11] ?? '0',
    });
  }
  return out;
}
