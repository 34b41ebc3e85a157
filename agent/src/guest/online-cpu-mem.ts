// OnlineCPUMem: bring hot-added CPUs and memory blocks online by writing "1" to their sysfs
// "online" attribute. `nb_cpus` is the number of CPUs that must be online in the end (Kata's
// current meaning: some VMMs online hot-added CPUs themselves, so the agent counts what is
// online rather than what it onlined); the agent waits up to the hotplug timeout for CPUs the
// kernel has not created yet. `cpu_only` skips memory.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log/logger';
import type { OnlineCPUMemRequest } from '../proto/messages.generated';
import { Code, RpcError } from '../ttrpc/status';
import { memoryDir } from './guest-details';
import { waitForSysfs } from './sysfs-changes';

export interface OnlineOptions {
  sysRoot?: string;
  timeoutMs: number;
  log?: Logger;
  signal?: AbortSignal;
  /** Wake on kernel uevents (default: when sysRoot is the real /sys). */
  uevents?: boolean;
}

export function cpuDir(sysRoot: string): string {
  return path.join(sysRoot, 'devices', 'system', 'cpu');
}

function readOnline(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined; // no "online" attribute (a CPU that cannot be unplugged, e.g. cpu0)
  }
}

function numbered(dir: string, prefix: 'cpu' | 'memory'): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new RpcError(Code.FAILED_PRECONDITION, `online ${prefix}: cannot list ${dir}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return names
    .filter((n) => n.startsWith(prefix) && n.length > prefix.length && /^\d+$/.test(n.slice(prefix.length)))
    .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)));
}

/** CPUs online now: those whose "online" reads 1, and those without the attribute (always online). */
export function countOnlineCpus(dir: string): number {
  let n = 0;
  for (const name of numbered(dir, 'cpu')) {
    const state = readOnline(path.join(dir, name, 'online'));
    if (state === undefined || state === '1') n++;
  }
  return n;
}

/**
 * Writes "1" to `<dir>/<prefix>N/online` for every entry that reads "0". Returns how many
 * were brought online; failures (EBUSY for memory the kernel cannot use, EINVAL) are logged
 * and skipped, as one stuck block must not keep the others offline.
 */
export function onlineOffline(dir: string, prefix: 'cpu' | 'memory', limit = Infinity, log?: Logger): number {
  let onlined = 0;
  const entries = numbered(dir, prefix);
  for (const name of entries) {
    if (onlined >= limit) break;
    const file = path.join(dir, name, 'online');
    if (readOnline(file) !== '0') continue;
    try {
      writeFileSync(file, '1');
      onlined++;
    } catch (err) {
      log?.warn(`online ${name} failed`, { file, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    }
  }
  return onlined;
}

/** Brings CPUs online until `target` are; DEADLINE_EXCEEDED when hot-added ones do not appear in time. */
export function onlineCpus(target: number, opts: OnlineOptions): Promise<number> {
  const sysRoot = opts.sysRoot ?? '/sys';
  const dir = cpuDir(sysRoot);
  let online = 0;
  return waitForSysfs({
    probe: () => {
      online = countOnlineCpus(dir);
      if (online >= target) return online;
      onlineOffline(dir, 'cpu', target - online, opts.log);
      online = countOnlineCpus(dir);
      return online >= target ? online : undefined;
    },
    dirs: [dir],
    uevents: opts.uevents ?? path.resolve(sysRoot) === '/sys',
    timeoutMs: opts.timeoutMs,
    timeoutMessage: () => `online CPUs: ${online} of ${target} CPUs online within ${opts.timeoutMs} ms (hot-added CPUs missing under ${dir})`,
    signal: opts.signal,
    cancelMessage: () => `online CPUs: cancelled with ${online} of ${target} online`,
    onWatchError: (err) => opts.log?.debug('online CPUs: change watch', { error: err.message }),
  });
}

/** grpc.OnlineCPUMemRequest; fields may be left out by callers that build one. */
export type OnlineCpuMemRequest = Partial<OnlineCPUMemRequest>;

/** The whole request: CPUs first (they are what the runtime waits for), then memory blocks. */
export async function onlineCpuMem(req: OnlineCpuMemRequest, opts: OnlineOptions): Promise<{ cpus: number; memoryBlocks: number }> {
  const nb = Number(req.nb_cpus ?? 0);
  if (!Number.isInteger(nb) || nb < 0) throw new RpcError(Code.INVALID_ARGUMENT, `online CPUs: nb_cpus ${req.nb_cpus} is not a count`);
  const cpus = nb > 0 ? await onlineCpus(nb, opts) : 0;
  // A kernel without memory hotplug has no memory/ directory: nothing to online there.
  const memDir = memoryDir(opts.sysRoot ?? '/sys');
  const memoryBlocks = req.cpu_only || !existsSync(memDir) ? 0 : onlineOffline(memDir, 'memory', Infinity, opts.log);
  return { cpus, memoryBlocks };
}
