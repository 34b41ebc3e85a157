// The duties of a guest init, done when the agent is PID 1 (and skipped when it runs under
// another init, as in tests): re-rooting an initramfs, early mounts, a hostname, cgroup
// controllers (after ready), orphan reaping, signals, and never exiting: not on an error, and
// not because Node's event loop ran out of work (it powers the VM off instead).
import type { Logger } from '../log/logger';
import { OrphanReaper, sethostname } from '../native';
import { enableCgroupControllers, mountEarlyFilesystems } from './mounts';
import { rerootInitramfs } from './reroot';
import type { Shutdown } from './shutdown';

export const DEFAULT_HOSTNAME = 'localhost';

/** The longest timer Node takes; the hold does nothing when it fires. */
const HOLD_LOOP_MS = 2 ** 31 - 1;

export function isInitProcess(): boolean {
  return process.pid === 1;
}

export function setupSystem(log: Logger): void {
  rerootInitramfs(log.child({ subsystem: 'init' }));
  mountEarlyFilesystems(log.child({ subsystem: 'init' }));
  try {
    sethostname(DEFAULT_HOSTNAME);
  } catch (err) {
    log.warn('cannot set the hostname', { error: err });
  }
  process.chdir('/');
  process.env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
}

/**
 * Enables the cgroup controllers for containers, once: nothing needs them before the first
 * container, and under TCG the kernel's work for it was about 0.07 s of the start. The agent
 * runs it after ready, and CreateContainer before crun if that came first.
 */
export function cgroupControllersOnce(log: Logger, root?: string): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    enableCgroupControllers(log, root);
  };
}

/** Reaps orphans (as PID 1, or as a subreaper otherwise) and logs each one. */
export function startReaper(log: Logger): OrphanReaper {
  const reaper = new OrphanReaper();
  reaper.on('reaped', (orphan) => log.debug('reaped orphan', { ...orphan }));
  reaper.on('error', (err) => log.error('reaper failed', { error: err }));
  return reaper.start();
}

export function handleSignals(log: Logger, shutdown: Shutdown): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => void shutdown.run(signal));
  }
  process.on('SIGHUP', () => log.info('SIGHUP ignored'));
  process.on('SIGPIPE', () => undefined);
}

/**
 * An uncaught exception leaves the agent in a state nobody knows (a half-done call, a lock or a
 * stream left as it was), so it does not go on serving: the error is logged as one critical line
 * with its stack, and the agent ends through Shutdown.abort: as PID 1 it syncs and powers the VM
 * off, so the host sees the VM end (Kata's own agent panics, which panics the kernel); otherwise
 * it exits with status 1. Log lines are written synchronously (fd, file, pipe), so that line is
 * out before the end. An exception that comes while ending is not logged: the first one said why,
 * and logging more could feed on itself. An unhandled rejection is only logged: the code that
 * rejected has already unwound, and nobody waited for its result.
 */
export function exitOnUncaughtException(log: Logger, shutdown: Shutdown): void {
  let ending = false;
  process.on('uncaughtException', (err) => {
    if (ending) return;
    ending = true;
    log.critical('uncaught exception: the agent ends', { error: err });
    void shutdown.abort(`uncaught exception: ${err instanceof Error ? err.message : String(err)}`);
  });
  process.on('unhandledRejection', (err) => log.critical('unhandled rejection', { error: err }));
}

/**
 * Keeps PID 1 running until the machine powers off. Node ends a process once nothing holds its
 * event loop (a ref'd handle, timer or request), and PID 1 ending panics the kernel ("Attempted
 * to kill init!"). Whether anything else holds it depends on what the agent is doing (a listener
 * waiting for a host, every listener closed on the way down), so PID 1 holds the loop itself,
 * from its first step on, and never lets go: it leaves only by reboot(2), which Shutdown.run
 * calls and which does not return. An exit that happens anyway (a process.exit somewhere) is
 * logged, the console's last line before the panic.
 */
export function holdUntilPowerOff(log: Logger): void {
  setInterval(() => undefined, HOLD_LOOP_MS);
  process.on('exit', (code) => log.critical('PID 1 is exiting: the kernel will panic', { code }));
}
