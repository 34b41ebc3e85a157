// Exit statuses the orphan reaper collected recently. A process that crun leaves to us (e.g.
// `crun exec -d`) can exit and be reaped before the agent has read its pid and called
// waitForProcessExit; that call then finds the status here instead of failing with ESRCH.
import type { ExitStatus } from './exit-status';

const LIMIT = 256;
const recent = new Map<number, ExitStatus>();

export function rememberOrphanExit(pid: number, status: ExitStatus): void {
  recent.delete(pid);
  recent.set(pid, status);
  if (recent.size > LIMIT) recent.delete(recent.keys().next().value as number);
}

/** The remembered status of `pid`, removed so that a later process with that pid is not confused. */
export function takeOrphanExit(pid: number): ExitStatus | undefined {
  const status = recent.get(pid);
  recent.delete(pid);
  return status;
}
