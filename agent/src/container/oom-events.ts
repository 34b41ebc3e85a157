// GetOOMEvent: a long poll answered with the id of a container whose cgroup had an OOM kill.
// Each container's memory.events is watched (inotify reports cgroup file changes); a rise in
// oom_kill queues that container's id until a caller takes it.
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger';
import { parseFlatKeyed } from './stats';

export class OomEvents {
  readonly #queue: string[] = [];
  readonly #waiters: Array<(id: string) => void> = [];
  readonly #watches = new Map<string, { watcher: FSWatcher; kills: bigint }>();

  constructor(
    private readonly cgroupRoot: string,
    private readonly log: Logger,
  ) {}

  /** Starts watching a container's cgroup; a cgroup without memory.events is skipped quietly. */
  async watchContainer(containerId: string, cgroupsPath: string): Promise<void> {
    const file = path.join(this.cgroupRoot, cgroupsPath, 'memory.events');
    let kills: bigint;
    try {
      kills = parseFlatKeyed(await readFile(file, 'utf8')).get('oom_kill') ?? 0n;
    } catch {
      this.log.debug('no memory.events: OOM events not reported', { container: containerId, file });
      return;
    }
    try {
      const watcher = watch(file, { persistent: false }, () => void this.#check(containerId, file));
      watcher.on('error', () => this.unwatchContainer(containerId));
      this.#watches.set(containerId, { watcher, kills });
    } catch (err) {
      this.log.warn('cannot watch memory.events', { container: containerId, file, error: err });
    }
  }

  unwatchContainer(containerId: string): void {
    this.#watches.get(containerId)?.watcher.close();
    this.#watches.delete(containerId);
  }

  async #check(containerId: string, file: string): Promise<void> {
    const w = this.#watches.get(containerId);
    if (!w) return;
    let kills: bigint;
    try {
      kills = parseFlatKeyed(await readFile(file, 'utf8')).get('oom_kill') ?? 0n;
    } catch {
      return;
    }
    if (kills > w.kills) {
      w.kills = kills;
      this.#publish(containerId);
    }
  }

  #publish(containerId: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(containerId);
    else this.#queue.push(containerId);
  }

  /** The next container with an OOM kill; waits until there is one or `signal` aborts. */
  next(signal?: AbortSignal): Promise<string> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (id: string) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(id);
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal?.reason ?? new Error('GetOOMEvent cancelled'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  close(): void {
    for (const id of [...this.#watches.keys()]) this.unwatchContainer(id);
  }
}
