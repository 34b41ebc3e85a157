// Waiting for a sysfs condition (a hot-added CPU appeared and is online ...) without polling.
// The real kernel announces hotplug as uevents (sysfs itself does not notify inotify of new
// directories), so on the real /sys we listen on a NETLINK_KOBJECT_UEVENT socket; a directory
// watch covers fake sysfs trees in tests and costs nothing on the real one. Every wake-up
// re-runs the probe; spurious wake-ups are harmless.
import { type FSWatcher, watch } from 'node:fs';
import { NetlinkSocket } from '../native/netlink';
import { Code, RpcError } from '../ttrpc/status';

const NETLINK_KOBJECT_UEVENT = 15;
const UEVENT_KERNEL_GROUP = 1;

export interface SysfsWaitOptions<T> {
  /** Returns the result once the condition holds, undefined while it does not; may throw. */
  probe: () => T | undefined;
  /** Directories whose entries may change (e.g. /sys/devices/system/cpu). */
  dirs: string[];
  /** Also wake on kernel uevents (the real /sys). */
  uevents: boolean;
  timeoutMs: number;
  /** The DEADLINE_EXCEEDED message, built when the wait gives up. */
  timeoutMessage: () => string;
  signal?: AbortSignal;
  cancelMessage?: () => string;
  onWatchError?: (err: Error) => void;
}

export function waitForSysfs<T>(opts: SysfsWaitOptions<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const watchers: FSWatcher[] = [];
    let uevents: NetlinkSocket | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    const finish = (err: Error | undefined, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const w of watchers) w.close();
      uevents?.close();
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(value as T);
    };
    const check = (): boolean => {
      if (settled) return true;
      try {
        const result = opts.probe();
        if (result !== undefined) finish(undefined, result);
      } catch (err) {
        finish(err as Error);
      }
      return settled;
    };
    const onAbort = (): void => finish(new RpcError(Code.CANCELLED, opts.cancelMessage?.() ?? 'wait cancelled'));

    if (opts.signal?.aborted) return onAbort();
    if (check()) return;
    // Watch first, then look again: a change between the first look and the watch is not missed.
    for (const dir of opts.dirs) {
      try {
        const w = watch(dir, { persistent: true }, () => check());
        w.on('error', (err) => opts.onWatchError?.(err));
        watchers.push(w);
      } catch (err) {
        opts.onWatchError?.(err as Error);
      }
    }
    if (opts.uevents) {
      try {
        uevents = new NetlinkSocket(NETLINK_KOBJECT_UEVENT, () => check(), (err) => opts.onWatchError?.(err), UEVENT_KERNEL_GROUP);
        // While someone waits, the socket keeps the process alive like a timer would.
        uevents.setKeepAlive(true);
      } catch (err) {
        opts.onWatchError?.(err as Error);
      }
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => {
      if (!check()) finish(new RpcError(Code.DEADLINE_EXCEEDED, opts.timeoutMessage()));
    }, opts.timeoutMs);
    check();
  });
}
