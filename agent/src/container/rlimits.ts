// Without CAP_SYS_RESOURCE (an agent run as an ordinary root process on a restricted host, as
// in the integration tests; never PID 1 in a guest) the kernel refuses to raise a hard rlimit
// above the agent's own, and crun fails the whole container. There the requested limits are
// lowered to what the agent may grant, and the caller logs it.
import { readFileSync } from 'node:fs';
import type { OciJson } from './oci-json';

const CAP_SYS_RESOURCE = 24n;

const NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** Hard limits the agent cannot exceed, or undefined when it may raise any (CAP_SYS_RESOURCE). */
export function rlimitCeilings(procSelf = '/proc/self'): Map<string, bigint> | undefined {
  const status = readFileSync(`${procSelf}/status`, 'utf8');
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (capEff && (BigInt(`0x${capEff}`) >> CAP_SYS_RESOURCE) & 1n) return undefined;
  const out = new Map<string, bigint>();
  for (const line of readFileSync(`${procSelf}/limits`, 'utf8').split('\n')) {
    const name = Object.keys(NAMES).find((n) => line.startsWith(n));
    if (!name) continue;
    const hard = line.slice(26).trim().split(/\s+/)[1];
    if (hard && /^\d+$/.test(hard)) out.set(NAMES[name]!, BigInt(hard));
  }
  return out;
}

/** Lowers rlimits above their ceiling in place; returns the ones it changed. */
export function clampRlimits(processJson: OciJson | undefined, ceilings: Map<string, bigint> | undefined): string[] {
  const changed: string[] = [];
  if (!ceilings || !processJson?.rlimits) return changed;
  for (const r of processJson.rlimits as Array<{ type: string; hard?: bigint; soft?: bigint }>) {
    const max = ceilings.get(r.type);
    if (max === undefined) continue;
    if ((r.hard ?? 0n) > max) {
      r.hard = max;
      changed.push(r.type);
    }
    if ((r.soft ?? 0n) > (r.hard ?? 0n)) r.soft = r.hard;
  }
  return changed;
}
