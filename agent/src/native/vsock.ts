// AF_VSOCK server and client as Node streams. Accepting runs off a uv_poll watch on the
// listening fd; each connection becomes an FdStream (see fd-stream.ts for why not net.Socket).
import { EventEmitter } from 'node:events';
import { native } from './addon';
import { FdStream } from './fd-stream';
import { FdWatch } from './fd-watch';

export interface VsockAddress {
  cid: number;
  port: number;
}

/** A connected vsock stream; `peer` is the other end's CID and port. */
export class VsockSocket extends FdStream {
  readonly peer: VsockAddress;
  constructor(fd: number, peer: VsockAddress) {
    super(fd);
    this.peer = peer;
  }
}

interface VsockServerEvents {
  connection: [socket: VsockSocket, peer: VsockAddress];
  error: [err: Error];
  close: [];
}

export class VsockServer extends EventEmitter<VsockServerEvents> {
  #fd = -1;
  #watch: FdWatch | undefined;
  #address: VsockAddress | undefined;

  /**
   * Listens at once (synchronously), so a failure throws here: e.g. code EAFNOSUPPORT with
   * "vsock listen cid -1 port 1024 (no AF_VSOCK support in this kernel)". cid -1 = any.
   */
  listen(cid: number, port: number, backlog = 128): this {
    if (this.#watch) throw new Error(`vsock listen cid ${cid} port ${port}: server already listening`);
    const addon = native();
    const fd = addon.vsockListen(cid, port, backlog);
    try {
      this.#watch = new FdWatch(fd, () => this.#acceptPending(), (err) => this.#fail(err));
    } catch (err) {
      addon.closeFd(fd);
      throw err;
    }
    this.#fd = fd;
    this.#address = { cid, port };
    this.#watch.watch({ readable: true });
    return this;
  }

  address(): VsockAddress | undefined {
    return this.#address;
  }

  get listening(): boolean {
    return this.#watch !== undefined;
  }

  #acceptPending(): void {
    const addon = native();
    for (;;) {
      let accepted: { fd: number; cid: number; port: number } | null;
      try {
        accepted = addon.vsockAccept(this.#fd);
      } catch (err) {
        // E.g. EMFILE: the listening fd stays readable, so retrying would spin. Stop and report.
        this.#fail(err as Error);
        return;
      }
      if (accepted === null) return;
      const peer = { cid: accepted.cid, port: accepted.port };
      let socket: VsockSocket;
      try {
        socket = new VsockSocket(accepted.fd, peer);
      } catch {
        continue; // no watch for it (e.g. ENOMEM): the stream closed its fd; this peer is dropped
      }
      this.emit('connection', socket, peer);
    }
  }

  #fail(err: Error): void {
    this.close();
    this.emit('error', err);
  }

  /** Stops accepting and closes the listening socket; open connections stay open. */
  close(): void {
    if (!this.#watch) return;
    this.#watch.close();
    this.#watch = undefined;
    native().closeFd(this.#fd);
    this.#fd = -1;
    process.nextTick(() => this.emit('close'));
  }
}

export interface ConnectVsockOptions {
  /** Give up after this long (ETIMEDOUT). Without it, the kernel's own connect timeout applies. */
  timeoutMs?: number;
}

/** Connects to cid:port; resolves once the connection is established. */
export function connectVsock(cid: number, port: number, options: ConnectVsockOptions = {}): Promise<VsockSocket> {
  const addon = native();
  const peer = { cid, port };
  let started: { fd: number; pending: boolean };
  try {
    started = addon.vsockConnect(cid, port);
  } catch (err) {
    return Promise.reject(err as Error);
  }
  const { fd, pending } = started;
  if (!pending) {
    try {
      return Promise.resolve(new VsockSocket(fd, peer));
    } catch (err) {
      return Promise.reject(err as Error); // the stream closed fd
    }
  }
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (err: Error | null): void => {
      watch.close();
      if (timer) clearTimeout(timer);
      if (err) {
        addon.closeFd(fd);
        reject(err);
        return;
      }
      try {
        resolve(new VsockSocket(fd, peer));
      } catch (streamErr) {
        reject(streamErr as Error); // the stream closed fd
      }
    };
    let watch: FdWatch;
    try {
      watch = new FdWatch(
        fd,
        () => {
          try {
            addon.vsockConnectResult(fd, cid, port);
            settle(null);
          } catch (err) {
            settle(err as Error);
          }
        },
        settle,
      );
    } catch (err) {
      addon.closeFd(fd);
      reject(err as Error);
      return;
    }
    watch.watch({ writable: true });
    if (options.timeoutMs !== undefined) {
      const ms = options.timeoutMs;
      timer = setTimeout(() => {
        const err = Object.assign(new Error(`vsock connect cid ${cid} port ${port}: ETIMEDOUT after ${ms} ms`), {
          code: 'ETIMEDOUT',
          syscall: 'connect',
        });
        settle(err);
      }, ms);
    }
  });
}

/** This machine's vsock CID (a guest's own CID, e.g. 3); throws when there is no /dev/vsock. */
export function vsockLocalCid(): number {
  return native().vsockLocalCid();
}
