// Leaving the guest: stop what runs, flush disks, then power off (as PID 1) or exit.
import type { Logger } from '../log/logger';
import { reboot, sync, type RebootCommand } from '../native';
import { settledWithin } from '../settled-within';

export type ShutdownHook = () => Promise<void>;

/** The machine calls a shutdown ends with (replaced in tests, which must not power anything off). */
export interface Machine {
  sync(): Promise<void>;
  reboot(command: RebootCommand): void;
}

export class Shutdown {
  private readonly hooks: Array<{ name: string; run: ShutdownHook }> = [];
  private started: Promise<never> | undefined;
  private aborted: Promise<never> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly isInit: boolean,
    private readonly machine: Machine = { sync, reboot },
  ) {}

  /** Hooks run in reverse order of registration (last started, first stopped). */
  onShutdown(name: string, run: ShutdownHook): void {
    this.hooks.unshift({ name, run });
  }

  /** Runs every hook (each bounded in time), syncs, then powers off or exits. Never returns. */
  run(reason: string, hookTimeoutMs = 10_000): Promise<never> {
    this.started ??= this.perform(reason, hookTimeoutMs);
    return this.started;
  }

  /**
   * The way out when the agent's state is unknown (an uncaught exception): no hook runs, since
   * each acts on that state. Not PID 1: exits with `exitCode` at once. PID 1: syncs (bounded) and
   * powers off, so the host sees the VM end, rather than a kernel panic. Never returns; also
   * cuts short a run() under way.
   */
  abort(reason: string, exitCode = 1, syncTimeoutMs = 10_000): Promise<never> {
    this.aborted ??= this.performAbort(reason, exitCode, syncTimeoutMs);
    return this.aborted;
  }

  private async perform(reason: string, hookTimeoutMs: number): Promise<never> {
    this.log.info('shutting down', { reason });
    for (const hook of this.hooks) {
      try {
        if ((await settledWithin(hook.run(), hookTimeoutMs)) === 'slow') throw new Error(`timed out after ${hookTimeoutMs} ms`);
      } catch (err) {
        this.log.error('shutdown step failed', { step: hook.name, error: err });
      }
    }
    await this.syncBounded(hookTimeoutMs);
    if (this.isInit) return this.powerOff();
    process.exit(0);
  }

  private async performAbort(reason: string, exitCode: number, syncTimeoutMs: number): Promise<never> {
    if (!this.isInit) return process.exit(exitCode);
    this.log.critical('shutting down at once', { reason });
    await this.syncBounded(syncTimeoutMs);
    return this.powerOff();
  }

  /** Bounded like a hook: a disk or share that stalls the flush must not keep the VM up. */
  private async syncBounded(timeoutMs: number): Promise<void> {
    try {
      if ((await settledWithin(this.machine.sync(), timeoutMs)) === 'slow') throw new Error(`timed out after ${timeoutMs} ms`);
    } catch (err) {
      this.log.error('sync failed', { error: err });
    }
  }

  private powerOff(): Promise<never> {
    // The only way PID 1 leaves (see holdUntilPowerOff): reboot(2), which does not return.
    this.log.info('powering off');
    try {
      this.machine.reboot('power-off');
    } catch (err) {
      this.log.critical('power-off failed: PID 1 stays up', { error: err });
    }
    // Had it returned, or failed: PID 1 stays (its hold keeps the event loop) rather than panic the kernel.
    return new Promise<never>(() => undefined);
  }
}
