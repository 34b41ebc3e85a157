// Readiness of one fd from Node's own event loop (uv_poll in the addon): the base of every
// non-blocking native I/O here. One watch per fd (libuv allows no more).
import { getSystemErrorName } from 'node:util';
import { native, type PollWatchHandle } from './addon';

export interface FdReadiness {
  readable: boolean;
  writable: boolean;
}

export type FdWatchListener = (ready: FdReadiness) => void;

/** Turns a negative libuv status from the poll into an Error. */
export function pollError(status: number, what: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`${what}: ${code}`), { code, errno: status, syscall: 'epoll_wait' });
}

export class FdWatch {
  readonly fd: number;
  #handle: PollWatchHandle | undefined;
  #readable = false;
  #writable = false;
  #errorsInARow = 0;
  #applied = 0;

  /**
   * `onReady` gets readiness; the caller then does its non-blocking syscall. `onError` gets a
   * poll failure the syscall could not explain; the watch is closed before it is called.
   */
  constructor(fd: number, onReady: FdWatchListener, onError: (err: Error) => void) {
    this.fd = fd;
    const addon = native();
    this.#handle = addon.pollOpen(fd, (status, events) => {
      if (status >= 0) {
        this.#errorsInARow = 0;
        onReady({ readable: (events & addon.POLL_READABLE) !== 0, writable: (events & addon.POLL_WRITABLE) !== 0 });
        return;
      }
      // libuv turns EPOLLERR into UV_EBADF and stops the watch. On a socket EPOLLERR is how a
      // failed connect or a reset arrives, so let the caller's syscall fetch the real error
      // (ECONNRESET...) first; only an error that persists after that is reported as is.
      if (++this.#errorsInARow > 1) {
        this.close();
        onError(pollError(status, `watch fd ${fd}`));
        return;
      }
      onReady({ readable: this.#readable, writable: this.#writable });
      this.#apply(true); // libuv stopped the watch: re-arm, unless onReady closed it
    });
  }

  get closed(): boolean {
    return this.#handle === undefined;
  }

  /** Says which readiness to report; watching nothing lets the process exit meanwhile. */
  watch(interest: Partial<FdReadiness>): void {
    if (interest.readable !== undefined) this.#readable = interest.readable;
    if (interest.writable !== undefined) this.#writable = interest.writable;
    this.#apply();
  }

  #apply(force = false): void {
    if (this.#handle === undefined) return;
    const addon = native();
    const events = (this.#readable ? addon.POLL_READABLE : 0) | (this.#writable ? addon.POLL_WRITABLE : 0);
    // Each uv_poll_start costs an epoll_ctl; streams ask for the same interest on every _read.
    if (events === this.#applied && !force) return;
    addon.pollStart(this.#handle, events);
    this.#applied = events;
  }

  /** Whether an active watch keeps the process alive (the default, like a Node socket). */
  setKeepAlive(keep: boolean): void {
    if (this.#handle !== undefined) native().pollRef(this.#handle, keep);
  }

  /** Stops watching for good. The fd stays open: its owner closes it after this. */
  close(): void {
    if (this.#handle === undefined) return;
    native().pollClose(this.#handle);
    this.#handle = undefined;
  }
}
