// ttRPC server: connection lifecycle, stream id rules, deadlines, dispatch to registered
// handlers, and bounded buffering per connection.
import type { Duplex } from 'node:stream';
import { Channel } from './channel';
import { Flag, type Frame, type FrameHeader, FrameType, MAX_PAYLOAD_BYTES } from './frame';
import { decodeRequest, encodeResponse, type RequestMessage } from './messages';
import {
  type CallContext,
  MethodRegistry,
  type ServerStream,
  type StreamHandler,
  type UnaryHandler,
} from './registry';
import { Code, RpcError, statusFromError } from './status';
import { MessageQueue } from './stream';

export interface ServerOptions {
  maxMessageBytes?: number;
  /** Stop reading a connection while this many bytes wait to be written to it. */
  highWaterBytes?: number;
  /** Stop reading a connection while this many of its calls are running. */
  maxInFlight?: number;
  /** Called for errors that are not any caller's fault (for logging). */
  onInternalError?: (err: unknown, where: string) => void;
}

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

export class TtrpcServer {
  readonly registry = new MethodRegistry();
  private readonly connections = new Set<ServerConnection>();
  private readonly closers: Array<() => Promise<void>> = [];
  readonly options: Required<Omit<ServerOptions, 'onInternalError'>> & Pick<ServerOptions, 'onInternalError'>;

  constructor(opts: ServerOptions = {}) {
    this.options = {
      maxMessageBytes: opts.maxMessageBytes ?? MAX_PAYLOAD_BYTES,
      highWaterBytes: opts.highWaterBytes ?? 8 << 20,
      maxInFlight: opts.maxInFlight ?? 4096,
      onInternalError: opts.onInternalError,
    };
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

  /** Calls currently running, over all connections (for leak checks and metrics). */
  get activeCalls(): number {
    let n = 0;
    for (const c of this.connections) n += c.activeCalls;
    return n;
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

class ServerConnection {
  private readonly channel: Channel;
  private readonly calls = new Map<number, ActiveCall>();
  private lastStreamId = 0;
  private readingPaused = false;
  private awaitingDrain = false;

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

  get activeCalls(): number {
    return this.calls.size;
  }

  close(): void {
    this.channel.destroy();
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Request:
        if (this.acceptStreamId(frame.streamId)) this.startCall(frame);
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

  private startCall(frame: Frame): void {
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
    const id = frame.streamId;
    const call: ActiveCall = {};
    this.calls.set(id, call);
    const ctx: CallContext = {
      service: req.service,
      method: req.method,
      metadata: req.metadata,
      get signal() {
        return signalOf(call);
      },
    };
    if (req.timeoutNano > 0n) {
      const ms = Number(req.timeoutNano / 1_000_000n);
      ctx.deadline = Date.now() + ms;
      if (ms <= MAX_TIMER_MS) {
        call.timer = setTimeout(
          () => this.finish(id, { code: Code.DEADLINE_EXCEEDED, message: `${req.method}: deadline of ${ms} ms exceeded` }),
          ms,
        );
      }
    }
    this.throttle();

    let result: Promise<Uint8Array | void>;
    if (entry.kind === 'unary') {
      result = Promise.resolve().then(() => entry.handler(req.payload, ctx));
    } else {
      const inbound = new MessageQueue();
      if (frame.flags & Flag.RemoteOpen) call.inbound = inbound;
      else inbound.end();
      const stream: ServerStream = {
        received: inbound,
        request: req.payload,
        send: (msg) => this.sendStreamData(id, call, msg),
      };
      result = Promise.resolve().then(() => entry.handler(stream, ctx));
    }
    // A call cancelled with its client may settle after a new client reused its id.
    const current = () => this.calls.get(id) === call;
    result.then(
      (payload) => current() && this.finish(id, undefined, payload ?? undefined),
      (err) => current() && this.finish(id, statusFromError(err, req.method)),
    );
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
    this.channel.send(id, FrameType.Response, 0, encodeResponse({ status, payload }));
    this.throttle();
  }

  private sendStatus(id: number, code: Code, message: string): void {
    this.channel.send(id, FrameType.Response, 0, encodeResponse({ status: { code, message } }));
    this.throttle();
  }

  // Bounded buffering: stop reading while the peer does not read our answers fast enough
  // or too many of its calls are running; ttRPC itself has no flow control.
  private throttle(): void {
    if (this.channel.closed) return;
    const { highWaterBytes, maxInFlight } = this.server.options;
    const overQueue = this.channel.queuedBytes > highWaterBytes;
    if (!overQueue && this.calls.size < maxInFlight) {
      if (this.readingPaused) this.channel.resume();
      this.readingPaused = false;
      return;
    }
    if (!this.readingPaused) this.channel.pause();
    this.readingPaused = true;
    if (overQueue && !this.awaitingDrain) {
      this.awaitingDrain = true;
      void this.channel.drained().then(() => {
        this.awaitingDrain = false;
        this.throttle();
      });
    }
  }

  private onClosed(): void {
    this.cancelAll(new RpcError(Code.CANCELLED, 'client disconnected'));
    this.onGone();
  }

  /** Ends every running call without answering it: its client is gone. */
  private cancelAll(gone: RpcError): void {
    for (const call of this.calls.values()) {
      if (call.timer) clearTimeout(call.timer);
      call.inbound?.end(gone);
      abortCall(call, gone);
    }
    this.calls.clear();
    this.throttle();
  }
}
