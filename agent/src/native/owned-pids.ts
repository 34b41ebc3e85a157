// Pids whose exit status belongs to someone other than the orphan reaper: processes watched
// through a pidfd (process-exit.ts) and children that another waiter reaps, such as node-pty's
// (it waits for its pid in a thread). child_process children need no entry: the reaper asks
// libuv for those itself.
const claims = new Map<number, number>();

/** Keeps the reaper away from `pid` until releasePid is called as often as claimPid. */
export function claimPid(pid: number): void {
  claims.set(pid, (claims.get(pid) ?? 0) + 1);
}

export function releasePid(pid: number): void {
  const n = claims.get(pid) ?? 0;
  if (n <= 1) claims.delete(pid);
  else claims.set(pid, n - 1);
}

export function ownedPids(): number[] {
  return [...claims.keys()];
}
