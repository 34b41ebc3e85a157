// CPU time of a server process, for benches that compare servers: wall-clock figures suffer when
// other jobs share the machine; CPU per call much less so.
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SEC = 100; // USER_HZ, 100 on Linux x86 and arm

/** utime + stime of a whole process (all its threads, live or gone), in microseconds. */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SEC;
}
