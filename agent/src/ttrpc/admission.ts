// Bounded work: how many calls may run at once, on one connection and in the whole server.
//
// Each call has a weight (CallWeight, from the server's method table): the units of work it
// holds while its handler runs, until the handler settles, whether or not its answer was
// already sent (a deadline) or dropped (the client left). Two budgets hold them:
//   - a connection's (ServerOptions.maxInFlight): at its limit the connection is not read, so
//     a pipelining client is held back by its own socket (see ServerConnection);
//   - the server's (maxServerInFlight), shared by every connection. A connection whose next
//     call finds no room here waits its turn: room is handed out in the order connections began
//     waiting, so a flood on one connection delays another's call by at most one call per
//     connection ahead of it (a connection waits with one call: it reads nothing meanwhile).
//     Part of it (reservedForLight) only weight-1 calls may take, so that Health/Check passes
//     a flood of heavy calls at once.
// A call that waits longer than ServerOptions.admissionTimeoutMs is answered RESOURCE_EXHAUSTED
// naming the limit (a hung handler must not silence a connection for good).
// Long polls (weight LONG_POLL: WaitProcess, ReadStdout, GetOOMEvent...) wait for events outside
// the server (a process exiting, output, an OOM kill) and hold almost nothing: they take no units
// but one of a limited number of places (maxLongPolls*). Waiting for a place to free could take
// forever, so a long poll over its limit is answered RESOURCE_EXHAUSTED at once.

/** Weight of a call that waits on an outside event rather than working. */
export const LONG_POLL = 0;

/** Units of work a call of this service/method holds while it runs (LONG_POLL: a long poll). */
export type CallWeight = (service: string, method: string) => number;

export interface AdmissionLimits {
  /** Work units one connection's running calls may hold; at the limit, it is not read. */
  maxInFlight: number;
  /** Work units all running calls may hold together. */
  maxServerInFlight: number;
  /** Units of maxServerInFlight that only weight-1 calls may take. */
  reservedForLight: number;
  /** Long polls one connection may have running; more are answered RESOURCE_EXHAUSTED. */
  maxLongPollsPerConnection: number;
  /** Long polls all connections may have running together. */
  maxLongPolls: number;
}

/** A connection holding one call that found no room in the server's budget. */
export interface AdmissionWaiter {
  readonly weight: number;
  /** Room was taken for the waiter's call: it may start now. */
  admitted(): void;
}

/** The server-wide budget, shared by all connections. */
export class ServerBudget {
  private used = 0;
  private longPolls = 0;
  private running = 0;
  private readonly queue: AdmissionWaiter[] = [];

  constructor(readonly limits: AdmissionLimits) {}

  /** Handlers that have not settled yet, over all connections (also those already closed). */
  get runningCalls(): number {
    return this.running;
  }

  get usedUnits(): number {
    return this.used;
  }

  /** What a call of this weight may hold at most: the limits, so that any call can run alone. */
  clamp(weight: number): number {
    return Math.min(weight, this.limits.maxInFlight, this.limitFor(weight));
  }

  /**
   * Takes room for a call now, or queues the waiter (false) to be admitted() later. Nobody is
   * passed who could run: room is handed to queued waiters as soon as it frees, so those still
   * queued do not fit, and a call of their weight would not either.
   */
  take(waiter: AdmissionWaiter): boolean {
    if (this.fits(waiter.weight)) {
      this.used += waiter.weight;
      this.running++;
      return true;
    }
    if (!this.queue.includes(waiter)) this.queue.push(waiter);
    return false;
  }

  /** Takes room for a call of this weight if there is, without queueing anyone (false: none). */
  takeNow(weight: number): boolean {
    if (!this.fits(weight)) return false;
    this.used += weight;
    this.running++;
    return true;
  }

  /** The waiter gave up (its call was answered otherwise, or its connection closed). */
  leave(waiter: AdmissionWaiter): void {
    const i = this.queue.indexOf(waiter);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** A long poll may start (true: it then holds a place until release). */
  takeLongPoll(): boolean {
    if (this.longPolls >= this.limits.maxLongPolls) return false;
    this.longPolls++;
    this.running++;
    return true;
  }

  release(weight: number): void {
    this.running--;
    if (weight === LONG_POLL) {
      this.longPolls--;
      return;
    }
    this.used -= weight;
    // In queue order; one that does not fit yet (a heavy call in the reserve) lets lighter ones
    // by. admitted() reads on from that connection, which may queue it again, at the end.
    while (this.queue.length > 0) {
      const next = this.queue.find((w) => this.fits(w.weight));
      if (!next) return;
      this.leave(next);
      this.used += next.weight;
      this.running++;
      next.admitted();
    }
  }

  /** Why a call of this weight is not running yet, naming the limit. */
  describe(weight: number): string {
    const limit = this.limitFor(weight);
    return `the agent's running calls hold ${this.used} of ${limit} work units${limit < this.limits.maxServerInFlight ? ` (${this.limits.reservedForLight} more are kept for light calls)` : ''} and this call needs ${weight}`;
  }

  private limitFor(weight: number): number {
    return weight <= 1 ? this.limits.maxServerInFlight : this.limits.maxServerInFlight - this.limits.reservedForLight;
  }

  private fits(weight: number): boolean {
    return this.used + weight <= this.limitFor(weight);
  }
}
