// kata_guest_* families: the guest kernel's view (meminfo, vmstat, load, CPU times, disks, network).
import { itemFamily, type MetricFamily, type Sample } from './exposition';
import {
  CPU_TIME_ITEMS,
  DISKSTAT_ITEMS,
  meminfoItemName,
  NETDEV_ITEMS,
  parseColonPairs,
  parseDiskstats,
  parseLoadavg,
  parseNetDev,
  parseProcStat,
  parseSpacePairs,
} from './proc-parse';
import { readProcText } from './read-proc';

function labelledRows(rows: Array<{ key: string; values: string[] }>, keyLabel: string, items: readonly string[]): Sample[] {
  const samples: Sample[] = [];
  for (const row of rows) {
    for (let i = 0; i < row.values.length && i < items.length; i++) {
      samples.push({ labels: { [keyLabel]: row.key, item: items[i]! }, value: row.values[i]! });
    }
  }
  return samples;
}

export async function guestOsFamilies(procRoot: string): Promise<MetricFamily[]> {
  const [meminfo, vmstat, loadavg, stat, diskstats, netdev] = await Promise.all(
    ['meminfo', 'vmstat', 'loadavg', 'stat', 'diskstats', 'net/dev'].map((f) => readProcText(procRoot, f)),
  );
  const load = loadavg ? parseLoadavg(loadavg) : undefined;
  const cpus = stat ? parseProcStat(stat).cpus : [];
  return [
    itemFamily(
      'kata_guest_meminfo',
      'gauge',
      'Statistics about memory usage on the system (see /proc/meminfo; sizes in kB).',
      (meminfo ? parseColonPairs(meminfo) : []).map(([k, v]) => [meminfoItemName(k), v] as const),
    ),
    itemFamily('kata_guest_vm_stat', 'gauge', 'Guest virtual memory statistics (see /proc/vmstat).', vmstat ? parseSpacePairs(vmstat) : []),
    itemFamily('kata_guest_load', 'gauge', 'Guest system load averages.', load ? [['load1', load.load1], ['load5', load.load5], ['load15', load.load15]] : []),
    itemFamily('kata_guest_tasks', 'gauge', 'Guest tasks: runnable now (cur) and existing (max), from /proc/loadavg.', load ? [['cur', load.running], ['max', load.total]] : []),
    {
      name: 'kata_guest_cpu_time',
      type: 'gauge',
      help: 'Guest CPU time per CPU and in total, in USER_HZ ticks (see /proc/stat).',
      samples: labelledRows(cpus.map((c) => ({ key: c.cpu, values: c.times })), 'cpu', CPU_TIME_ITEMS),
    },
    {
      name: 'kata_guest_diskstat',
      type: 'gauge',
      help: 'Guest disk statistics (see /proc/diskstats).',
      samples: labelledRows((diskstats ? parseDiskstats(diskstats) : []).map((d) => ({ key: d.disk, values: d.values })), 'disk', DISKSTAT_ITEMS),
    },
    {
      name: 'kata_guest_netdev_stat',
      type: 'gauge',
      help: 'Guest network device statistics (see /proc/net/dev).',
      samples: labelledRows((netdev ? parseNetDev(netdev) : []).map((n) => ({ key: n.iface, values: n.values })), 'interface', NETDEV_ITEMS),
    },
  ];
}
