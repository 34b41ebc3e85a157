// The exit status of a process the agent did not spawn with child_process, e.g. a container's
// init that crun forked and left to us (we are PID 1 or its subreaper, so it is our child).
// A pidfd turns readable when the process exits; waitid(P_PIDFD) then reaps it.
import { native } from './addon';
import { toExitStatus, type ExitStatus } from './exit-status';
import { FdWatch } from './fd-watch';
import { claimPid, releasePid } from './owned-pids';
import { takeOrphanExit } from './recent-orphan-exits';

/**
 * Resolves with the exit status of `pid`, which must be (or become, by reparenting) a child of
 * this process; rejects with ECHILD otherwise. Until then the orphan reaper leaves `pid` alone.
 * If the orphan reaper got to it first (a fast exit), resolves with the status it recorded.
 */
export function waitForProcessExit(pid: number): Promise<ExitStatus> {
  const addon = native();
  let pidfd: number;
  try {
    pidfd = addon.pidfdOpen(pid);
  } catch (err) {
    const reaped = (err as NodeJS.ErrnoException).code === 'ESRCH' ? takeOrphanExit(pid) : undefined;
    return reaped ? Promise.resolve(reaped) : Promise.reject(err);
  }
  claimPid(pid);
  return new Promise((resolve, reject) => {
    const finish = (result: ExitStatus | Error): void => {
      watch.close();
      addon.closeFd(pidfd);
      releasePid(pid);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const collect = (): boolean => {
      try {
        const raw = addon.pidfdWaitExit(pidfd, pid);
        if (raw === null) return false;
        finish(toExitStatus(raw));
      } catch (err) {
        finish(err as Error);
      }
      return true;
    };
    let watch: FdWatch;
    try {
      watch = new FdWatch(pidfd, () => void collect(), (err) => finish(err));
    } catch (err) {
      // Not watched, so not waited for: give the pid back to the reaper rather than hold it forever.
      addon.closeFd(pidfd);
      releasePid(pid);
      reject(err as Error);
      return;
    }
    watch.watch({ readable: true });
  });
}
