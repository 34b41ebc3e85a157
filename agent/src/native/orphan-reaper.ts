// Reaps orphaned descendants, as PID 1 must (and as a subreaper when another init runs us),
// without stealing anyone's exit status: see agent/native/src/orphan_reaper.c for how it tells
// orphans from child_process children, pidfd-watched processes and claimed pids.
import { EventEmitter } from 'node:events';
import { native } from './addon';
import { toExitStatus, type ExitStatus } from './exit-status';
import { ownedPids } from './owned-pids';
import { rememberOrphanExit } from './recent-orphan-exits';

export type ReapedOrphan = ExitStatus & { pid: number };

interface OrphanReaperEvents {
  reaped: [orphan: ReapedOrphan];
  error: [err: Error];
}

export function isPid1(): boolean {
  return process.pid === 1;
}

/** Orphans get reparented to us instead of to PID 1 (a no-op need when we are PID 1). */
export function setChildSubreaper(on: boolean): void {
  native().setChildSubreaper(on);
}

export function isChildSubreaper(): boolean {
  return native().isChildSubreaper();
}

/** One per process. Emits 'reaped' for every orphan it collects. */
export class OrphanReaper extends EventEmitter<OrphanReaperEvents> {
  #running = false;
  readonly #onSigchld = (): void => {
    try {
      this.reapNow();
    } catch (err) {
      this.emit('error', err as Error);
    }
  };

  /**
   * Starts reaping on every SIGCHLD. Node's signal handle is shared with libuv's own SIGCHLD
   * watch for child_process, so both run; the listener does not keep the process alive.
   * Becomes a child subreaper unless we are PID 1, and reaps what is already waiting.
   */
  start(): this {
    if (this.#running) return this;
    if (!isPid1()) setChildSubreaper(true);
    process.on('SIGCHLD', this.#onSigchld);
    this.#running = true;
    this.reapNow();
    return this;
  }

  stop(): void {
    if (!this.#running) return;
    process.off('SIGCHLD', this.#onSigchld);
    this.#running = false;
  }

  /**
   * One reaping pass; returns (and emits) the orphans it reaped. Throws ENOMEM, having reaped
   * nothing, if it could not list whose statuses to leave alone; the next SIGCHLD tries again.
   */
  reapNow(): ReapedOrphan[] {
    const reaped = native()
      .reapOrphans(ownedPids())
      .map((raw) => ({ pid: raw.pid, ...toExitStatus(raw) }));
    for (const { pid, ...status } of reaped) rememberOrphanExit(pid, status as ExitStatus);
    for (const orphan of reaped) this.emit('reaped', orphan);
    return reaped;
  }
}
