// kata_agent_* families: the agent process itself (from /proc/<pid>/ and Node's counters).
import path from 'node:path';
import { itemFamily, type MetricFamily } from './exposition';
import { parseColonPairs, parseMaxOpenFiles, parsePidStat } from './proc-parse';
import { countEntries, readProcText } from './read-proc';

// USER_HZ: the unit of /proc/<pid>/stat times; 100 on every architecture Linux guests run.
const USER_HZ = 100;

// /proc/<pid>/status keys reported as kata_agent_proc_status items (lower-cased, as Kata does).
const STATUS_ITEMS = new Set([
  'VmPeak', 'VmSize', 'VmLck', 'VmPin', 'VmHWM', 'VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'VmData',
  'VmStk', 'VmExe', 'VmLib', 'VmPTE', 'VmSwap', 'HugetlbPages', 'Threads',
  'voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches',
]);

const IO_ITEMS: Record<string, string> = {
  rchar: 'rchar',
  wchar: 'wchar',
  syscr: 'syscr',
  syscw: 'syscw',
  read_bytes: 'read_bytes',
  write_bytes: 'write_bytes',
  cancelled_write_bytes: 'cancelled_write_byte',
};

function gauge(name: string, help: string, value: number | string | undefined): MetricFamily {
  return { name, type: 'gauge', help, samples: value === undefined ? [] : [{ value }] };
}

/** `pid` is "self" for the agent; tests may point procRoot at a copy. */
export async function agentProcessFamilies(procRoot: string, pid = 'self', scrapeCount = 0): Promise<MetricFamily[]> {
  const dir = path.join(procRoot, pid);
  const [statusText, statText, ioText, limitsText, procStatText, openFds] = await Promise.all([
    readProcText(dir, 'status'),
    readProcText(dir, 'stat'),
    readProcText(dir, 'io'),
    readProcText(dir, 'limits'),
    readProcText(procRoot, 'stat'),
    countEntries(path.join(dir, 'fd')),
  ]);

  const status = new Map(statusText ? parseColonPairs(statusText) : []);
  const kib = (key: string): number | undefined => (status.has(key) ? Number(status.get(key)) * 1024 : undefined);
  const stat = statText ? parsePidStat(statText) : [];
  // Fields of /proc/<pid>/stat, 1-based as in proc(5).
  const statField = (n: number): string | undefined => stat[n - 3];
  const bootTime = procStatText ? Number(/^btime (\d+)$/m.exec(procStatText)?.[1]) : NaN;
  const startTicks = Number(statField(22));
  const startTime = Number.isFinite(bootTime) && Number.isFinite(startTicks) ? bootTime + startTicks / USER_HZ : undefined;
  const cpu = pid === 'self' ? process.cpuUsage() : undefined;
  const cpuSeconds = cpu
    ? (cpu.user + cpu.system) / 1e6
    : stat.length > 0 ? (Number(statField(14)) + Number(statField(15))) / USER_HZ : undefined;
  const statusItems: Array<[string, string]> = [];
  for (const [key, value] of status) if (STATUS_ITEMS.has(key)) statusItems.push([key.toLowerCase(), value]);
  const ioItems: Array<[string, string]> = [];
  for (const [key, value] of ioText ? parseColonPairs(ioText) : []) if (IO_ITEMS[key]) ioItems.push([IO_ITEMS[key]!, value]);
  const statItems: Array<[string, string]> = [];
  if (stat.length > 0) for (const [n, name] of [[14, 'utime'], [15, 'stime'], [16, 'cutime'], [17, 'cstime']] as const) statItems.push([name, statField(n)!]);
  // The directory listing includes the descriptor readdir itself held open.
  const fds = openFds === undefined ? undefined : pid === 'self' ? openFds - 1 : openFds;

  return [
    { name: 'kata_agent_scrape_count', type: 'counter', help: 'Metrics scrape count.', samples: [{ value: scrapeCount }] },
    gauge('kata_agent_process_resident_memory_bytes', 'Resident memory size in bytes.', kib('VmRSS')),
    gauge('kata_agent_process_virtual_memory_bytes', 'Virtual memory size in bytes.', kib('VmSize')),
    { name: 'kata_agent_process_cpu_seconds_total', type: 'counter', help: 'Total user and system CPU time spent in seconds.', samples: cpuSeconds === undefined ? [] : [{ value: cpuSeconds }] },
    gauge('kata_agent_process_open_fds', 'Number of open file descriptors.', fds),
    gauge('kata_agent_process_max_fds', 'Maximum number of open file descriptors.', limitsText ? parseMaxOpenFiles(limitsText) : undefined),
    gauge('kata_agent_process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', startTime),
    gauge('kata_agent_threads', 'Agent process threads.', status.get('Threads')),
    gauge('kata_agent_total_rss', 'Agent process total rss size in bytes.', kib('VmRSS')),
    gauge('kata_agent_total_vm', 'Agent process total vm size in bytes.', kib('VmSize')),
    itemFamily('kata_agent_proc_status', 'gauge', 'Agent process status (see /proc/<pid>/status; sizes in kB).', statusItems),
    itemFamily('kata_agent_proc_stat', 'gauge', 'Agent process CPU times in USER_HZ ticks (see /proc/<pid>/stat).', statItems),
    itemFamily('kata_agent_io_stat', 'gauge', 'Agent process IO statistics (see /proc/<pid>/io).', ioItems),
  ];
}
