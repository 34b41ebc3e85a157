// Leaving the guest: stop what runs, flush disks, then power off (as PID 1) or exit.
import type { Logger } from '../log/logger';
import { reboot, sync } from '../native';

export type ShutdownHook = () => Promise<void>;

export class Shutdown {
  private readonly hooks: Array<{ name: string; run: ShutdownHook }> = [];
  private started: Promise<never> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly isInit: boolean,
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

  private async perform(reason: string, hookTimeoutMs: number): Promise<never> {
    this.log.info('shutting down', { reason });
    for (const hook of this.hooks) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          hook.run(),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${hookTimeoutMs} ms`)), hookTimeoutMs))),
        ]);
      } catch (err) {
        this.log.error('shutdown step failed', { step: hook.name, error: err });
      } finally {
        clearTimeout(timer);
      }
    }
    // Bounded like a hook: a disk or share that stalls the flush must not keep the VM up.
    let syncTimer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        sync(),
        new Promise((_, reject) => (syncTimer = setTimeout(() => reject(new Error(`timed out after ${hookTimeoutMs} ms`)), hookTimeoutMs))),
      ]);
    } catch (err) {
      this.log.error('sync failed', { error: err });
    } finally {
      clearTimeout(syncTimer);
    }
    if (this.isInit) {
      // The only way PID 1 leaves (see holdUntilPowerOff): reboot(2), which does not return.
      this.log.info('powering off');
      try {
        reboot('power-off');
      } catch (err) {
        this.log.critical('power-off failed: PID 1 stays up', { error: err });
      }
      // Had it returned, or failed: PID 1 stays (its hold keeps the event loop) rather than panic the kernel.
      return new Promise<never>(() => undefined);
    }
    process.exit(0);
  }
}
