// Request/answer over one rtnetlink socket. Every request carries a sequence number and asks
// for an ACK; the kernel's NLMSG_ERROR (0 = success) settles it. Dumps (NLM_F_DUMP) collect
// NLM_F_MULTI parts until NLMSG_DONE. The socket only keeps the process alive while requests
// are in flight, and is closed once idle: it subscribes to no groups, so nothing is lost, and
// no fd watch is left open at process exit. Dumps run one at a time: the kernel allows one
// dump per socket (else EBUSY).
import { constants } from 'node:os';
import { NETLINK_ROUTE, NetlinkSocket } from '../../native/netlink';
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN } from './constants';
import { NetlinkError } from './errors';
import { encodeNetlinkMessage, parseDatagram, parseErrorPayload, type NetlinkMessage } from './message';

/** What the client needs from a socket; NetlinkSocket in the agent. */
export interface DatagramSocket {
  send(message: Buffer): void;
  setKeepAlive(keep: boolean): void;
  close(): void;
}

export type SocketFactory = (onDatagram: (d: Buffer) => void, onError: (e: Error) => void) => DatagramSocket;

const routeSocket: SocketFactory = (onDatagram, onError) => new NetlinkSocket(NETLINK_ROUTE, onDatagram, onError);

interface Pending {
  operation: string;
  dump: boolean;
  parts: NetlinkMessage[];
  interrupted: boolean;
  timer: NodeJS.Timeout;
  resolve(parts: NetlinkMessage[]): void;
  reject(err: Error): void;
}

const DUMP_ATTEMPTS = 3;

export class RtnetlinkClient {
  readonly #openSocket: SocketFactory;
  readonly #timeoutMs: number;
  #socket: DatagramSocket | undefined;
  #seq = Math.floor(Math.random() * 0x7fffffff);
  readonly #pending = new Map<number, Pending>();
  #dumpQueue: Promise<unknown> = Promise.resolve();

  constructor(opts: { socket?: SocketFactory; timeoutMs?: number } = {}) {
    this.#openSocket = opts.socket ?? routeSocket;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Sends a change (NEW/DEL/SET) and waits for the kernel's ACK; throws NetlinkError on failure. */
  async request(operation: string, type: number, flags: number, body: Buffer): Promise<void> {
    await this.#send(operation, type, flags | NLM_F_REQUEST | NLM_F_ACK, body, false);
  }

  /** Dumps every object of `type` (filtered by the kernel only as far as it does so itself). */
  dump(operation: string, type: number, body: Buffer): Promise<NetlinkMessage[]> {
    const run = async (): Promise<NetlinkMessage[]> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#send(operation, type, NLM_F_REQUEST | NLM_F_DUMP, body, true);
        } catch (err) {
          // The table changed while it was being dumped: the answer may be inconsistent; ask again.
          if ((err as NetlinkError).code !== 'EINTR' || attempt >= DUMP_ATTEMPTS) throw err;
        }
      }
    };
    const result = this.#dumpQueue.then(run, run);
    this.#dumpQueue = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.#failAll(new Error('rtnetlink client closed'));
    this.#closeSocket();
  }

  /** Whether a socket is open now (it is only while requests are in flight). */
  get socketOpen(): boolean {
    return this.#socket !== undefined;
  }

  #closeSocket(): void {
    this.#socket?.close();
    this.#socket = undefined;
  }

  #send(operation: string, type: number, flags: number, body: Buffer, dump: boolean): Promise<NetlinkMessage[]> {
    const socket = this.#ensureSocket();
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    const seq = this.#seq;
    const message = encodeNetlinkMessage({ type, flags, seq, pid: 0 }, [body]);
    return new Promise<NetlinkMessage[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(seq);
        reject(new NetlinkError(`${operation} (no answer from the kernel in ${this.#timeoutMs} ms)`, constants.errno.ETIMEDOUT));
      }, this.#timeoutMs);
      this.#pending.set(seq, { operation, dump, parts: [], interrupted: false, timer, resolve, reject });
      socket.setKeepAlive(true);
      try {
        socket.send(message);
      } catch (err) {
        this.#settle(seq);
        reject(Object.assign(new Error(`${operation}: ${(err as Error).message}`), { code: (err as NodeJS.ErrnoException).code }));
      }
    });
  }

  #ensureSocket(): DatagramSocket {
    this.#socket ??= this.#openSocket(
      (d) => this.#onDatagram(d),
      (e) => this.#onSocketError(e),
    );
    return this.#socket;
  }

  #settle(seq: number): Pending | undefined {
    const p = this.#pending.get(seq);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.#pending.delete(seq);
    if (this.#pending.size === 0) {
      this.#socket?.setKeepAlive(false);
      // Not from inside the socket's own receive callback: close on the next turn if still idle.
      setImmediate(() => {
        if (this.#pending.size === 0) this.#closeSocket();
      });
    }
    return p;
  }

  #onDatagram(datagram: Buffer): void {
    let messages: NetlinkMessage[];
    try {
      messages = parseDatagram(datagram);
    } catch (err) {
      this.#onSocketError(err as Error);
      return;
    }
    for (const msg of messages) {
      const p = this.#pending.get(msg.seq);
      if (!p) continue; // an answer to a request that already timed out
      if (msg.flags & NLM_F_DUMP_INTR) p.interrupted = true;
      switch (msg.type) {
        case NLMSG_NOOP:
          break;
        case NLMSG_ERROR: {
          const { errno } = parseErrorPayload(msg);
          this.#settle(msg.seq);
          if (errno === 0) p.resolve(p.parts);
          else p.reject(new NetlinkError(p.operation, errno));
          break;
        }
        case NLMSG_DONE: {
          // A dump's DONE carries an int: 0, or the negative errno that ended the dump.
          const errno = msg.payload.length >= 4 ? -msg.payload.readInt32LE(0) : 0;
          this.#settle(msg.seq);
          if (errno !== 0) p.reject(new NetlinkError(p.operation, errno));
          else if (p.interrupted) p.reject(new NetlinkError(`${p.operation} (dump interrupted)`, constants.errno.EINTR));
          else p.resolve(p.parts);
          break;
        }
        case NLMSG_OVERRUN:
          this.#settle(msg.seq);
          p.reject(new NetlinkError(`${p.operation} (overrun)`, constants.errno.ENOBUFS));
          break;
        default:
          p.parts.push(msg);
      }
    }
  }

  /** A receive error (e.g. ENOBUFS: the kernel dropped messages) leaves every answer in doubt. */
  #onSocketError(err: Error): void {
    this.#failAll(err);
    this.#closeSocket();
  }

  #failAll(err: Error): void {
    for (const seq of [...this.#pending.keys()]) {
      const p = this.#settle(seq);
      p?.reject(Object.assign(new Error(`${p.operation}: ${err.message}`), { code: (err as NodeJS.ErrnoException).code }));
    }
  }
}
