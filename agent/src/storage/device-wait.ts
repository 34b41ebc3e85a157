// Waiting for a hot-plugged device without polling: watch the directories where it will show
// up (the deepest ones that exist so far), re-check on every change, give up at the deadline.
//
// Why /dev is always among the watched directories: sysfs does not report new device
// directories to inotify, but devtmpfs does report the device node the kernel creates in /dev
// at the same moment, so a change in /dev is the signal to look at sysfs again.
import { type FSWatcher, existsSync, watch } from 'node:fs';
import path from 'node:path';
import { Code, RpcError } from '../ttrpc/status';
import { cancelled } from './errors';

/** Either the thing looked for, or the directories whose changes may make it appear. */
export type Probe<T> = { found: T } | { waitOn: string[] };

export interface WaitForDeviceOptions<T> {
  /** What is awaited, for messages: "virtio-blk device at PCI path 02/00". */
  what: string;
  probe: () => Probe<T>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called once, when the first probe found nothing and the watches are in place (tests use it). */
  onWaiting?: () => void;
}

function deepestExisting(dir: string): string {
  let current = dir;
  while (!existsSync(current)) {
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

export function waitForDevice<T>(opts: WaitForDeviceOptions<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const watchers = new Map<string, FSWatcher>();
    let settled = false;
    let announcedWaiting = false;

    const finish = (err: Error | undefined, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      for (const w of watchers.values()) w.close();
      watchers.clear();
      if (err) reject(err);
      else resolve(value as T);
    };

    // Watches exactly `dirs`; true if the set changed.
    const watchOnly = (dirs: Set<string>): boolean => {
      let changed = false;
      for (const [dir, w] of watchers) {
        if (!dirs.has(dir)) {
          w.close();
          watchers.delete(dir);
          changed = true;
        }
      }
      for (const dir of dirs) {
        if (watchers.has(dir)) continue;
        try {
          const w = watch(dir, { persistent: true }, () => check());
          // A watched directory that goes away: forget it, the next check finds its parent.
          w.on('error', () => {
            w.close();
            watchers.delete(dir);
            check();
          });
          watchers.set(dir, w);
          changed = true;
        } catch {
          // Vanished between the existence check and watch(): the next round picks its parent.
          changed = true;
        }
      }
      return changed;
    };

    const probeOnce = (): Probe<T> | undefined => {
      try {
        return opts.probe();
      } catch (err) {
        finish(err as Error);
        return undefined;
      }
    };

    // Watches go up before each probe, so nothing created between a probe and its watch is
    // missed; repeat until the set of directories to watch is stable.
    const check = (): void => {
      for (let round = 0; !settled && round < 8; round++) {
        const result = probeOnce();
        if (result === undefined) return;
        if ('found' in result) return finish(undefined, result.found);
        const dirs = new Set(result.waitOn.map(deepestExisting));
        if (!watchOnly(dirs)) break;
      }
      if (!settled && !announcedWaiting) {
        announcedWaiting = true;
        opts.onWaiting?.();
      }
    };

    const onAbort = (): void => finish(cancelled(`wait for ${opts.what}`));
    const timer = setTimeout(() => {
      const last = probeOnce();
      if (last && 'found' in last) return finish(undefined, last.found);
      finish(new RpcError(Code.DEADLINE_EXCEEDED, `wait for ${opts.what}: did not appear within ${opts.timeoutMs} ms (hotplug timeout)`));
    }, opts.timeoutMs);

    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    check();
  });
}
