// ttRPC client: odd increasing stream ids, many calls in flight, deadlines, streams.
import type { Duplex } from 'node:stream';
import { Channel } from './channel';
import { Flag, type Frame, type FrameHeader, FrameType, MAX_PAYLOAD_BYTES } from './frame';
import { decodeResponse, encodeRequest, metadataFrom } from './messages';
import { Code, RpcError } from './status';
import { MessageQueue } from './stream';

export interface CallOptions {
  /** Sent as timeout_nano; the call also fails locally with DEADLINE_EXCEEDED when it passes. */
  timeoutMs?: number;
  metadata?: Record<string, string | string[]>;
  signal?: AbortSignal;
}

interface PendingCall {
  resolve(payload: Buffer): void;
  reject(err: RpcError): void;
  inbound?: MessageQueue; // server-sent Data messages of a streaming call
  timer?: NodeJS.Timeout;
  cleanup?: () => void;
}

export interface ClientStream {
  /** Messages from the server. */
  readonly received: AsyncIterable<Buffer>;
  /** Resolves with the final Response payload (usually empty) or rejects with its status. */
  readonly done: Promise<Buffer>;
  send(msg: Uint8Array): Promise<void>;
  /** Closes our sending side (Data frame with remote-closed + no-data). */
  closeSend(): void;
}

export class TtrpcClient {
  private readonly channel: Channel;
  private readonly pending = new Map<number, PendingCall>();
  private nextStreamId = 1;
  private closedError: RpcError | undefined;

  constructor(socket: Duplex, private readonly maxMessageBytes = MAX_PAYLOAD_BYTES) {
    this.channel = new Channel(
      socket,
      {
        frame: (frame) => this.onFrame(frame),
        oversize: (header) => this.onOversize(header),
        closed: (err) => this.onClosed(err),
      },
      maxMessageBytes,
    );
  }

  /** Connects to unix://, vsock://CID:PORT, hvsock:///path:PORT or serial:///chardev.sock. */
  static async connect(address: string, opts: { timeoutMs?: number } = {}): Promise<TtrpcClient> {
    const { dial } = await import('../transport/dial');
    return new TtrpcClient(await dial(address, opts));
  }

  get inFlight(): number {
    return this.pending.size;
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  call(service: string, method: string, payload: Uint8Array, opts: CallOptions = {}): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.open(service, method, payload, 0, opts, { resolve, reject });
    });
  }

  /**
   * Opens a streaming call. With `clientStreaming`, messages are sent with send() and the request
   * payload is not used; otherwise `payload` is the one request message (server streaming).
   */
  stream(service: string, method: string, opts: CallOptions & { clientStreaming?: boolean; payload?: Uint8Array } = {}): ClientStream {
    const inbound = new MessageQueue();
    let id: number | undefined;
    const done = new Promise<Buffer>((resolve, reject) => {
      const flags = opts.clientStreaming ? Flag.RemoteOpen : Flag.RemoteClosed;
      id = this.open(service, method, opts.clientStreaming ? new Uint8Array() : (opts.payload ?? new Uint8Array()), flags, opts, {
        resolve: (p) => {
          inbound.end();
          resolve(p);
        },
        reject: (e) => {
          inbound.end(e);
          reject(e);
        },
        inbound,
      });
    });
    done.catch(() => undefined); // surfaced through `received` or awaited by the caller
    let sendClosed = !opts.clientStreaming;
    return {
      received: inbound,
      done,
      send: async (msg) => {
        if (sendClosed || id === undefined || !this.pending.has(id)) throw new RpcError(Code.FAILED_PRECONDITION, 'stream is closed for sending');
        if (msg.length > this.maxMessageBytes) throw new RpcError(Code.RESOURCE_EXHAUSTED, `message of ${msg.length} bytes exceeds the limit`);
        if (!this.channel.send(id, FrameType.Data, 0, msg)) await this.channel.drained();
      },
      closeSend: () => {
        if (sendClosed || id === undefined) return;
        sendClosed = true;
        this.channel.send(id, FrameType.Data, Flag.RemoteClosed | Flag.NoData, new Uint8Array());
      },
    };
  }

  close(): void {
    this.channel.destroy();
  }

  private open(
    service: string,
    method: string,
    payload: Uint8Array,
    flags: number,
    opts: CallOptions,
    call: PendingCall,
  ): number | undefined {
    if (this.closedError) {
      call.reject(this.closedError);
      return undefined;
    }
    if (payload.length > this.maxMessageBytes) {
      call.reject(new RpcError(Code.RESOURCE_EXHAUSTED, `${method}: request of ${payload.length} bytes exceeds the limit of ${this.maxMessageBytes} bytes`));
      return undefined;
    }
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const timeoutNano = opts.timeoutMs && opts.timeoutMs > 0 ? BigInt(Math.ceil(opts.timeoutMs * 1e6)) : 0n;
    const request = encodeRequest({ service, method, payload, timeoutNano, metadata: metadataFrom(opts.metadata) });
    if (request.length > this.maxMessageBytes) {
      call.reject(new RpcError(Code.RESOURCE_EXHAUSTED, `${method}: request of ${request.length} bytes exceeds the limit`));
      return undefined;
    }
    this.pending.set(id, call);
    if (opts.timeoutMs && opts.timeoutMs > 0) {
      call.timer = setTimeout(
        () => this.settle(id, new RpcError(Code.DEADLINE_EXCEEDED, `${method}: no answer within ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      );
    }
    if (opts.signal) {
      const onAbort = () => this.settle(id, new RpcError(Code.CANCELLED, `${method}: cancelled`));
      if (opts.signal.aborted) {
        onAbort();
        return undefined;
      }
      opts.signal.addEventListener('abort', onAbort, { once: true });
      call.cleanup = () => opts.signal!.removeEventListener('abort', onAbort);
    }
    this.channel.send(id, FrameType.Request, flags, request);
    return id;
  }

  private settle(id: number, result: Buffer | RpcError): void {
    const call = this.pending.get(id);
    if (!call) return;
    this.pending.delete(id);
    if (call.timer) clearTimeout(call.timer);
    call.cleanup?.();
    if (result instanceof RpcError) call.reject(result);
    else call.resolve(result);
  }

  private onFrame(frame: Frame): void {
    if (frame.type === FrameType.Response) {
      let result: Buffer | RpcError;
      try {
        const res = decodeResponse(frame.payload);
        result = res.status && res.status.code !== Code.OK ? new RpcError(res.status.code, res.status.message) : res.payload;
      } catch (err) {
        result = new RpcError(Code.INTERNAL, `malformed ttRPC response: ${(err as Error).message}`);
      }
      this.settle(frame.streamId, result);
    } else if (frame.type === FrameType.Data) {
      const call = this.pending.get(frame.streamId);
      if (!call?.inbound) return;
      if ((frame.flags & Flag.NoData) === 0) call.inbound.push(frame.payload);
      if (frame.flags & Flag.RemoteClosed) this.settle(frame.streamId, Buffer.alloc(0));
    }
  }

  private onOversize(header: FrameHeader): void {
    this.settle(header.streamId, new RpcError(Code.RESOURCE_EXHAUSTED, `answer of ${header.length} bytes exceeds the limit of ${this.maxMessageBytes} bytes`));
  }

  private onClosed(err?: Error): void {
    this.closedError = new RpcError(Code.UNAVAILABLE, `connection closed${err ? `: ${err.message}` : ''}`);
    for (const id of [...this.pending.keys()]) this.settle(id, this.closedError);
  }
}
