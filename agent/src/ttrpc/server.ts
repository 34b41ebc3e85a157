// ttRPC server: connection lifecycle, stream id rules, deadlines, dispatch to registered
// handlers, and bounded work and buffering per connection and for the server (admission.ts).
import type { Duplex } from 'node:stream';
import { type AdmissionLimits, type AdmissionWaiter, type CallWeight, LONG_POLL, ServerBudget } from './admission';
import { Channel } from './channel';
import { Flag, type Frame, type FrameHeader, FrameType, MAX_PAYLOAD_BYTES } from './frame';
import { decodeRequest, encodeResponse, type RequestMessage, responsePayloadPrefix } from './messages';
import {
  type CallContext,
  type MethodEntry,
  MethodRegistry,
  type ServerStream,
  type StreamHandler,
  type UnaryHandler,
} from './registry';
import { Code, RpcError, statusFromError } from './status';
import { MessageQueue } from './stream';

export interface ServerOptions extends Partial<AdmissionLimits> {
  maxMessageBytes?: number;
  /** Stop reading a connection while this many bytes wait to be written to it. */
  highWaterBytes?: number;
  /** Work units of each method (default 1; LONG_POLL for calls that wait on outside events). */
  callWeight?: CallWeight;
  /**
   * How long a call that was read may wait for room in a budget before it is answered
   * RESOURCE_EXHAUSTED (its own deadline, when shorter, gives DEADLINE_EXCEEDED instead).
   */
  admissionTimeoutMs?: number;
  /** Called for errors that are not any caller's fault (for logging). */
  onInternalError?: (err: unknown, where: string) => void;
}

/**
 * The defaults: 8 of the agent's heavy calls (weight 4, such as GetMetrics) at once per
 * connection, 28 in all; 32 light ones per connection. bench/agent-rss.ts measured 5,000
 * pipelined GetMetrics at 16 per connection: an 18 MB higher peak RSS than at 8, for 20% less time.
 */
export const DEFAULT_LIMITS: Readonly<AdmissionLimits> = {
  maxInFlight: 32,
  maxServerInFlight: 128,
  reservedForLight: 16,
  maxLongPollsPerConnection: 1024,
  maxLongPolls: 2048,
};

interface ActiveCall {
  // Made only when a handler looks at ctx.signal: most calls never do.
  abort?: AbortController;
  abortReason?: RpcError;
  timer?: NodeJS.Timeout;
  inbound?: MessageQueue;
}

function abortCall(call: ActiveCall, reason: RpcError): void {
  call.abortReason = reason;
  call.abort?.abort(reason);
}

function signalOf(call: ActiveCall): AbortSignal {
  if (!call.abort) {
    call.abort = new AbortController();
    if (call.abortReason) call.abort.abort(call.abortReason);
  }
  return call.abort.signal;
}

const MAX_TIMER_MS = 0x7fffffff;

// A class, not an object literal with a getter: a literal's getter is a new closure and
// accessor pair for every call (a tenth of the server's CPU at 64 calls in flight).
class ServerCallContext implements CallContext {
  service: string;
  method: string;
  metadata: RequestMessage['metadata'];
  deadline: number | undefined;
  readonly #call: ActiveCall;

  constructor(req: RequestMessage, deadline: number | undefined, call: ActiveCall) {
    this.service = req.service;
    this.method = req.method;
    this.metadata = req.metadata;
    this.deadline = deadline;
    this.#call = call;
  }

  get signal(): AbortSignal {
    return signalOf(this.#call);
  }
}

export class TtrpcServer {
  readonly registry = new MethodRegistry();
  private readonly connections = new Set<ServerConnection>();
  private readonly closers: Array<() => Promise<void>> = [];
  readonly options: Required<Omit<ServerOptions, 'onInternalError'>> & Pick<ServerOptions, 'onInternalError'>;
  /** @internal The work budget all connections share. */
  readonly budget: ServerBudget;

  constructor(opts: ServerOptions = {}) {
    this.options = {
      maxMessageBytes: opts.maxMessageBytes ?? MAX_PAYLOAD_BYTES,
      highWaterBytes: opts.highWaterBytes ?? 1 << 20,
      maxInFlight: opts.maxInFlight ?? DEFAULT_LIMITS.maxInFlight,
      maxServerInFlight: opts.maxServerInFlight ?? DEFAULT_LIMITS.maxServerInFlight,
      reservedForLight: opts.reservedForLight ?? DEFAULT_LIMITS.reservedForLight,
      maxLongPollsPerConnection: opts.maxLongPollsPerConnection ?? DEFAULT_LIMITS.maxLongPollsPerConnection,
      maxLongPolls: opts.maxLongPolls ?? DEFAULT_LIMITS.maxLongPolls,
      callWeight: opts.callWeight ?? (() => 1),
      admissionTimeoutMs: opts.admissionTimeoutMs ?? 30_000,
      onInternalError: opts.onInternalError,
    };
    const o = this.options;
    if (!(o.maxInFlight >= 1 && o.maxServerInFlight >= 1 && o.reservedForLight >= 0 && o.reservedForLight < o.maxServerInFlight)) {
      throw new RangeError(`ttRPC limits: maxInFlight ${o.maxInFlight} and maxServerInFlight ${o.maxServerInFlight} must be >= 1, reservedForLight ${o.reservedForLight} below maxServerInFlight`);
    }
    this.budget = new ServerBudget(o);
  }

  /** Units a call of this method holds, within the limits; LONG_POLL for a long poll. */
  weightOf(service: string, method: string): number {
    const w = this.options.callWeight(service, method);
    if (w === LONG_POLL) return LONG_POLL;
    return this.budget.clamp(Number.isFinite(w) && w >= 1 ? Math.ceil(w) : 1);
  }

  register(service: string, method: string, handler: UnaryHandler): void {
    this.registry.register(service, method, { kind: 'unary', handler });
  }

  registerStream(service: string, method: string, handler: StreamHandler): void {
    this.registry.register(service, method, { kind: 'stream', handler });
  }

  /** Serves ttRPC on an already connected byte stream until it closes. */
  serveConnection(socket: Duplex, opts: ConnectionOptions = {}): void {
    const conn = new ServerConnection(this, socket, opts, () => this.connections.delete(conn));
    this.connections.add(conn);
  }

  /** Listens on an address (unix:///path, unix://@name, vsock://-1:PORT ...). */
  async listen(address: string): Promise<void> {
    const { listenAddress } = await import('../transport/listen');
    const listener = await listenAddress(address, (socket) => this.serveConnection(socket));
    this.closers.push(() => listener.close());
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Handlers currently running, over all connections, including those whose answer was already
   * sent (deadline) or dropped (client gone): what holds memory (for leak checks and metrics).
   */
  get activeCalls(): number {
    return this.budget.runningCalls;
  }

  /** Work units the running handlers hold (at most maxServerInFlight). */
  get inFlightUnits(): number {
    return this.budget.usedUnits;
  }

  async close(): Promise<void> {
    // Listeners only finish closing once their connections are gone.
    const closing = Promise.all(this.closers.splice(0).map((close) => close()));
    for (const conn of this.connections) conn.close();
    await closing;
  }
}

export interface ConnectionOptions {
  /**
   * The byte stream outlives the clients on it (a virtio-serial port: the guest sees no
   * boundary when the host reconnects). A request on stream id 1 after later ids is then a new
   * client: the old one's calls are cancelled and ids count afresh, instead of refusing id 1 as reused.
   */
  clientsRestartAtStreamOne?: boolean;
}

/** A request that was read but found no room yet; the connection reads nothing more meanwhile. */
interface HeldCall extends AdmissionWaiter {
  readonly frame: Frame;
  readonly req: RequestMessage;
  readonly entry: MethodEntry;
  /** Absolute deadline of the call (Date.now() ms), from when it was read. */
  readonly deadline?: number;
  /** Whether it waits in the server's queue (it had room on its connection). */
  queued: boolean;
  timer?: NodeJS.Timeout;
}

class ServerConnection {
  private readonly channel: Channel;
  private readonly calls = new Map<number, ActiveCall>();
  private lastStreamId = 0;
  private readingPaused = false;
  private awaitingDrain = false;
  private resumeScheduled = false;
  // Work units and long polls of this connection's handlers that have not settled yet.
  private usedUnits = 0;
  private longPolls = 0;
  private held: HeldCall | undefined;

  constructor(
    private readonly server: TtrpcServer,
    socket: Duplex,
    private readonly opts: ConnectionOptions,
    private readonly onGone: () => void,
  ) {
    this.channel = new Channel(
      socket,
      {
        frame: (frame) => this.onFrame(frame),
        oversize: (header) => this.onOversize(header),
        closed: () => this.onClosed(),
      },
      server.options.maxMessageBytes,
    );
  }

  close(): void {
    this.channel.destroy();
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Request:
        if (this.acceptStreamId(frame.streamId)) this.admit(frame);
        return;
      case FrameType.Data:
        this.onData(frame);
        return;
      default:
        // Responses never flow to a server; unknown types are reserved for future versions.
        return;
    }
  }

  private acceptStreamId(id: number): boolean {
    if (id % 2 !== 1) {
      this.sendStatus(id, Code.INVALID_ARGUMENT, `stream id ${id} is even: client-initiated streams use odd ids`);
      return false;
    }
    if (id === 1 && this.lastStreamId > 0 && this.opts.clientsRestartAtStreamOne) {
      this.cancelAll(new RpcError(Code.CANCELLED, 'client reconnected'));
      this.lastStreamId = 0;
    }
    if (id <= this.lastStreamId) {
      this.sendStatus(id, Code.INVALID_ARGUMENT, `stream id ${id} is reused or not increasing (last was ${this.lastStreamId})`);
      return false;
    }
    this.lastStreamId = id;
    return true;
  }

  private onOversize(header: FrameHeader): void {
    const limit = this.server.options.maxMessageBytes;
    const message = `message of ${header.length} bytes exceeds the limit of ${limit} bytes`;
    if (header.type === FrameType.Request) {
      if (this.acceptStreamId(header.streamId)) this.sendStatus(header.streamId, Code.RESOURCE_EXHAUSTED, message);
    } else if (header.type === FrameType.Data && this.calls.has(header.streamId)) {
      this.finish(header.streamId, { code: Code.RESOURCE_EXHAUSTED, message });
    }
  }

  private onData(frame: Frame): void {
    const call = this.calls.get(frame.streamId);
    if (!call?.inbound) {
      this.sendStatus(frame.streamId, Code.INVALID_ARGUMENT, `stream id ${frame.streamId} is not an open client stream`);
      return;
    }
    if ((frame.flags & Flag.NoData) === 0) call.inbound.push(frame.payload);
    if (frame.flags & Flag.RemoteClosed) call.inbound.end();
  }

  // A request was read: it runs now, waits for room (holding the connection), or is refused.
  private admit(frame: Frame): void {
    let req: RequestMessage;
    try {
      req = decodeRequest(frame.payload);
    } catch (err) {
      this.sendStatus(frame.streamId, Code.INVALID_ARGUMENT, `malformed ttRPC request: ${(err as Error).message}`);
      return;
    }
    const entry = this.server.registry.lookup(req.service, req.method);
    if ('missing' in entry) {
      this.sendStatus(frame.streamId, Code.UNIMPLEMENTED, entry.missing);
      return;
    }
    const deadline = req.timeoutNano > 0n ? Date.now() + Number(req.timeoutNano / 1_000_000n) : undefined;
    const weight = this.server.weightOf(req.service, req.method);
    const { budget, options } = this.server;
    if (weight === LONG_POLL) {
      // Long polls end on outside events: waiting for one to end could take forever.
      if (this.longPolls >= options.maxLongPollsPerConnection) {
        this.sendStatus(frame.streamId, Code.RESOURCE_EXHAUSTED, `${req.method}: this connection already has ${this.longPolls} waiting calls running (limit maxLongPollsPerConnection ${options.maxLongPollsPerConnection})`);
      } else if (!budget.takeLongPoll()) {
        this.sendStatus(frame.streamId, Code.RESOURCE_EXHAUSTED, `${req.method}: the agent already has ${options.maxLongPolls} waiting calls running (limit maxLongPolls)`);
      } else {
        this.longPolls++;
        this.startCall(frame, req, entry, LONG_POLL, deadline);
      }
      return;
    }
    // Room now (the common case): the call starts without being held first.
    if (
      !this.held &&
      this.usedUnits + weight <= options.maxInFlight &&
      this.channel.queuedBytes <= options.highWaterBytes &&
      budget.takeNow(weight)
    ) {
      this.usedUnits += weight;
      this.startCall(frame, req, entry, weight, deadline);
      this.updateReading();
      return;
    }
    const held: HeldCall = { frame, req, entry, deadline, weight, queued: false, admitted: () => this.startHeld(held) };
    this.held = held;
    this.tryHeld();
    if (this.held === held) this.holdOn(held);
  }

  // Room on this connection first, then in the server's budget (or its queue). Not while the
  // peer leaves our answers unread: no call starts for it then.
  private tryHeld(): void {
    const held = this.held;
    if (!held || held.queued || this.usedUnits + held.weight > this.server.options.maxInFlight) return;
    if (this.channel.queuedBytes > this.server.options.highWaterBytes) return;
    if (this.server.budget.take(held)) this.startHeld(held);
    else held.queued = true;
  }

  private startHeld(held: HeldCall): void {
    if (this.held !== held) return;
    this.held = undefined;
    if (held.timer) clearTimeout(held.timer);
    this.usedUnits += held.weight;
    this.startCall(held.frame, held.req, held.entry, held.weight, held.deadline);
    this.updateReading();
  }

  // The held call waits (the connection is not read meanwhile), at most until the admission
  // timeout or its own deadline.
  private holdOn(held: HeldCall): void {
    this.updateReading();
    const { admissionTimeoutMs } = this.server.options;
    const waitMs = Math.min(admissionTimeoutMs, held.deadline === undefined ? Infinity : Math.max(0, held.deadline - Date.now()));
    held.timer = setTimeout(() => {
      if (this.held !== held) return;
      this.held = undefined;
      this.server.budget.leave(held);
      const id = held.frame.streamId;
      const method = held.req.method;
      if (waitMs < admissionTimeoutMs) {
        this.sendStatus(id, Code.DEADLINE_EXCEEDED, `${method}: deadline exceeded while waiting to start: ${this.whyHeld(held)}`);
      } else {
        this.sendStatus(id, Code.RESOURCE_EXHAUSTED, `${method}: not started within ${admissionTimeoutMs} ms: ${this.whyHeld(held)}`);
      }
      this.updateReading();
    }, Math.min(waitMs, MAX_TIMER_MS));
  }

  private whyHeld(held: HeldCall): string {
    if (held.queued) return `${this.server.budget.describe(held.weight)} (limit maxServerInFlight)`;
    return `this connection's running calls hold ${this.usedUnits} of ${this.server.options.maxInFlight} work units and this call needs ${held.weight} (limit maxInFlight)`;
  }

  private startCall(frame: Frame, req: RequestMessage, entry: MethodEntry, weight: number, deadline: number | undefined): void {
    const id = frame.streamId;
    const call: ActiveCall = {};
    this.calls.set(id, call);
    const ctx = new ServerCallContext(req, deadline, call);
    if (deadline !== undefined) {
      const ms = Math.max(0, deadline - Date.now());
      const total = Number(req.timeoutNano / 1_000_000n);
      if (ms <= MAX_TIMER_MS) {
        call.timer = setTimeout(
          () => this.finish(id, { code: Code.DEADLINE_EXCEEDED, message: `${req.method}: deadline of ${total} ms exceeded` }),
          ms,
        );
      }
    }

    let stream: ServerStream | undefined;
    if (entry.kind === 'stream') {
      const inbound = new MessageQueue();
      if (frame.flags & Flag.RemoteOpen) call.inbound = inbound;
      else inbound.end();
      stream = {
        received: inbound,
        request: req.payload,
        send: (msg) => this.sendStreamData(id, call, msg),
      };
    }
    void this.runCall(id, call, entry, req, ctx, stream, weight);
  }

  // One async function per call instead of a chain of promises and closures.
  private async runCall(
    id: number,
    call: ActiveCall,
    entry: MethodEntry,
    req: RequestMessage,
    ctx: CallContext,
    stream: ServerStream | undefined,
    weight: number,
  ): Promise<void> {
    let payload: Uint8Array | void = undefined;
    let status: { code: Code; message: string } | undefined;
    try {
      // Handlers start from the microtask queue, not inside the delivery of the frame.
      await undefined;
      payload = entry.kind === 'unary' ? await entry.handler(req.payload, ctx) : await entry.handler(stream!, ctx);
    } catch (err) {
      status = statusFromError(err, req.method);
    }
    this.settled(weight);
    // A call cancelled with its client may settle after a new client reused its id.
    if (this.calls.get(id) !== call) return;
    if (status) this.finish(id, status);
    else this.finish(id, undefined, payload ?? undefined);
  }

  // A handler settled (answered, late, or for a client that left): its room goes to the next call.
  private settled(weight: number): void {
    if (weight === LONG_POLL) {
      this.longPolls--;
      this.server.budget.release(LONG_POLL);
      return;
    }
    this.usedUnits -= weight;
    this.server.budget.release(weight);
    this.tryHeld();
  }

  private async sendStreamData(id: number, call: ActiveCall, msg: Uint8Array): Promise<void> {
    if (this.calls.get(id) !== call) throw new RpcError(Code.CANCELLED, 'stream is no longer open');
    if (msg.length > this.server.options.maxMessageBytes) {
      throw new RpcError(Code.RESOURCE_EXHAUSTED, `stream message of ${msg.length} bytes exceeds the limit`);
    }
    if (!this.channel.send(id, FrameType.Data, 0, msg)) await this.channel.drained();
  }

  // Ends a call with a Response; the first ending wins (deadline vs. handler vs. disconnect).
  private finish(id: number, status?: { code: Code; message: string }, payload?: Uint8Array): void {
    const call = this.calls.get(id);
    if (!call) return;
    this.calls.delete(id);
    if (call.timer) clearTimeout(call.timer);
    call.inbound?.end(status ? new RpcError(status.code, status.message) : undefined);
    if (status) abortCall(call, new RpcError(status.code, status.message));
    if (payload && payload.length > this.server.options.maxMessageBytes) {
      status = { code: Code.RESOURCE_EXHAUSTED, message: `response of ${payload.length} bytes exceeds the limit` };
      payload = undefined;
    }
    if (status || !payload?.length) this.channel.send(id, FrameType.Response, 0, encodeResponse({ status, payload }));
    else this.channel.send(id, FrameType.Response, 0, responsePayloadPrefix(payload.length), payload);
    this.updateReading();
  }

  private sendStatus(id: number, code: Code, message: string): void {
    this.channel.send(id, FrameType.Response, 0, encodeResponse({ status: { code, message } }));
    this.updateReading();
  }

  // Bounded buffering: no frame is taken from a connection while a call of it waits for room or
  // its peer does not read our answers fast enough; ttRPC itself has no flow control.
  private updateReading(): void {
    if (this.channel.closed) return;
    const overQueue = this.channel.queuedBytes > this.server.options.highWaterBytes;
    if (!overQueue && !this.held) {
      // Frames are taken again from a later turn of the event loop, not from the promise
      // chain of the call that made room: otherwise a pipelined connection runs call after
      // call in one chain of microtasks, its answers stay corked until the chain ends, and
      // other connections and timers wait for it.
      if (this.readingPaused && !this.resumeScheduled) {
        this.resumeScheduled = true;
        setImmediate(this.resumeReading);
      }
      return;
    }
    if (!this.readingPaused) this.channel.pause();
    this.readingPaused = true;
    if (overQueue && !this.awaitingDrain) {
      this.awaitingDrain = true;
      void this.channel.drained().then(() => {
        this.awaitingDrain = false;
        this.tryHeld();
        this.updateReading();
      });
    }
  }

  private readonly resumeReading = (): void => {
    this.resumeScheduled = false;
    if (this.channel.closed || !this.readingPaused || this.held) return;
    if (this.channel.queuedBytes > this.server.options.highWaterBytes) return;
    this.readingPaused = false;
    this.channel.resume(); // may deliver buffered frames, and pause again
  };

  private onClosed(): void {
    this.dropHeld();
    this.cancelAll(new RpcError(Code.CANCELLED, 'client disconnected'));
    this.onGone();
  }

  private dropHeld(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    if (held.timer) clearTimeout(held.timer);
    this.server.budget.leave(held);
  }

  /**
   * Ends every running call without answering it: its client is gone. Their handlers hold their
   * room until they settle (they are told through ctx.signal); their results are dropped.
   */
  private cancelAll(gone: RpcError): void {
    for (const call of this.calls.values()) {
      if (call.timer) clearTimeout(call.timer);
      call.inbound?.end(gone);
      abortCall(call, gone);
    }
    this.calls.clear();
    this.updateReading();
  }
}
