// Parsers for the /proc files the metrics read. Each takes the whole file text (one read per
// file) and walks it line by line with indexOf/slice; numbers stay as the decimal text the
// kernel printed.

export type Pairs = Array<[string, string]>;

/** Splits a line on runs of spaces and tabs (no regex: these run once per line of /proc). */
export function fields(line: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    const c = i < line.length ? line.charCodeAt(i) : 32;
    const blank = c === 32 || c === 9;
    if (blank) {
      if (start >= 0) out.push(line.slice(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  return out;
}

function lines(text: string): string[] {
  const out = text.split('\n');
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** "Key:   value [kB]" lines (/proc/meminfo, /proc/<pid>/status, /proc/<pid>/io). */
export function parseColonPairs(text: string): Pairs {
  const out: Pairs = [];
  for (const line of lines(text)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const value = fields(line.slice(colon + 1))[0];
    if (value !== undefined) out.push([line.slice(0, colon), value]);
  }
  return out;
}

/** "key value" lines (/proc/vmstat). */
export function parseSpacePairs(text: string): Pairs {
  const out: Pairs = [];
  for (const line of lines(text)) {
    const space = line.indexOf(' ');
    if (space > 0) out.push([line.slice(0, space), line.slice(space + 1).trim()]);
  }
  return out;
}

/** /proc/meminfo keys as Kata's agent names them: MemTotal -> mem_total, Active(anon) -> active_anon. */
const MEMINFO_NAMES: Record<string, string> = {
  AnonHugePages: 'anon_hugepages',
  ShmemHugePages: 'shmem_hugepages',
  ShmemPmdMapped: 'shmem_pmd_mapped',
  FileHugePages: 'file_hugepages',
  FilePmdMapped: 'file_pmd_mapped',
  HugePages_Total: 'hugepages_total',
  HugePages_Free: 'hugepages_free',
  HugePages_Rsvd: 'hugepages_rsvd',
  HugePages_Surp: 'hugepages_surp',
  Hugepagesize: 'hugepagesize',
  Hugetlb: 'hugetlb',
  DirectMap4k: 'direct_map_4k',
  DirectMap4M: 'direct_map_4M',
  DirectMap2M: 'direct_map_2M',
  DirectMap1G: 'direct_map_1G',
  Percpu: 'per_cpu',
  NFS_Unstable: 'nfs_unstable',
  Committed_AS: 'committed_as',
  MmapCopy: 'mmap_copy',
};

const meminfoNameCache = new Map<string, string>();

export function meminfoItemName(key: string): string {
  const known = MEMINFO_NAMES[key] ?? meminfoNameCache.get(key);
  if (known) return known;
  const name = key
    .replace(/\((\w+)\)/, '_$1')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
  meminfoNameCache.set(key, name);
  return name;
}

export interface LoadAverage {
  load1: string;
  load5: string;
  load15: string;
  running: string;
  total: string;
}

export function parseLoadavg(text: string): LoadAverage {
  const f = fields(text.trim());
  const slash = (f[3] ?? '').indexOf('/');
  if (f.length < 4 || slash < 0) throw new Error(`parse /proc/loadavg: unexpected "${text.trim()}"`);
  return { load1: f[0]!, load5: f[1]!, load15: f[2]!, running: f[3]!.slice(0, slash), total: f[3]!.slice(slash + 1) };
}

export const CPU_TIME_ITEMS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal', 'guest', 'guest_nice'] as const;

export interface ProcStat {
  /** "total" for the aggregate line, else the CPU number; values in USER_HZ ticks. */
  cpus: Array<{ cpu: string; times: string[] }>;
  bootTimeSeconds: number;
}

export function parseProcStat(text: string): ProcStat {
  const cpus: ProcStat['cpus'] = [];
  let bootTimeSeconds = NaN;
  for (const line of lines(text)) {
    if (line.startsWith('cpu')) {
      const f = fields(line);
      cpus.push({ cpu: f[0] === 'cpu' ? 'total' : f[0]!.slice(3), times: f.slice(1, 1 + CPU_TIME_ITEMS.length) });
    } else if (line.startsWith('btime ')) {
      bootTimeSeconds = Number(line.slice(6));
    }
  }
  return { cpus, bootTimeSeconds };
}

// Field names of /proc/diskstats after "major minor name", in order (Kata's item names).
export const DISKSTAT_ITEMS = [
  'reads', 'merged', 'sectors_read', 'time_reading',
  'writes', 'writes_merged', 'sectors_written', 'time_writing',
  'in_progress', 'time_in_progress', 'weighted_time_in_progress',
  'discards', 'discards_merged', 'sectors_discarded', 'time_discarding', // Linux 4.18+
  'flushes', 'time_flushing', // Linux 5.5+
] as const;

export function parseDiskstats(text: string): Array<{ disk: string; values: string[] }> {
  const out: Array<{ disk: string; values: string[] }> = [];
  for (const line of lines(text)) {
    const f = fields(line);
    if (f.length < 14) continue;
    out.push({ disk: f[2]!, values: f.slice(3, 3 + DISKSTAT_ITEMS.length) });
  }
  return out;
}

// Columns of /proc/net/dev after "iface:", in order (Kata's item names).
export const NETDEV_ITEMS = [
  'recv_bytes', 'recv_packets', 'recv_errs', 'recv_drop', 'recv_fifo', 'recv_frame', 'recv_compressed', 'recv_multicast',
  'sent_bytes', 'sent_packets', 'sent_errs', 'sent_drop', 'sent_fifo', 'sent_colls', 'sent_carrier', 'sent_compressed',
] as const;

export function parseNetDev(text: string): Array<{ iface: string; values: string[] }> {
  const out: Array<{ iface: string; values: string[] }> = [];
  for (const line of lines(text)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue; // the two header lines have "|" but no ":"
    const values = fields(line.slice(colon + 1));
    if (values.length < NETDEV_ITEMS.length) continue;
    out.push({ iface: line.slice(0, colon).trim(), values: values.slice(0, NETDEV_ITEMS.length) });
  }
  return out;
}

/** /proc/<pid>/stat: the fields after the command name, so that field N (1-based, proc(5)) is at [N - 3]. */
export function parsePidStat(text: string): string[] {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('parse /proc/<pid>/stat: no ")" after the command name');
  return fields(text.slice(close + 1).trim());
}

/** The soft "Max open files" of /proc/<pid>/limits, or undefined when unlimited. */
export function parseMaxOpenFiles(text: string): string | undefined {
  for (const line of lines(text)) {
    if (!line.startsWith('Max open files')) continue;
    const soft = fields(line.slice('Max open files'.length))[0];
    return soft === undefined || soft === 'unlimited' ? undefined : soft;
  }
  return undefined;
}
