// A netlink socket as datagrams in and out (messages are encoded in agent/src/network/).
// Reading is driven by an FdWatch: no thread, no polling loop.
import { native } from './addon';
import { FdWatch } from './fd-watch';

interface NetlinkAddon {
  netlinkOpen(protocol: number, groups?: number): number;
  netlinkSend(fd: number, data: Buffer): number;
  netlinkRecv(fd: number): Buffer | null;
  NETLINK_ROUTE: number;
}

function addon(): NetlinkAddon {
  return native() as unknown as NetlinkAddon;
}

export const NETLINK_ROUTE = 0;

export class NetlinkSocket {
  readonly fd: number;
  #watch: FdWatch | undefined;
  #closed = false;

  /**
   * Opens a netlink socket of `protocol` in the calling thread's network namespace. Every
   * datagram the kernel sends is passed to `onDatagram`; a socket error goes to `onError`.
   */
  constructor(protocol: number, onDatagram: (data: Buffer) => void, onError: (err: Error) => void, groups = 0) {
    this.fd = addon().netlinkOpen(protocol, groups);
    try {
      this.#watch = new FdWatch(
        this.fd,
        () => {
          for (;;) {
            let data: Buffer | null;
            try {
              data = addon().netlinkRecv(this.fd);
            } catch (err) {
              onError(err as Error);
              return;
            }
            if (data === null) return;
            onDatagram(data);
          }
        },
        onError,
      );
    } catch (err) {
      native().closeFd(this.fd); // no socket object to close it later
      throw err;
    }
    this.#watch.watch({ readable: true });
    // An idle socket (nothing in flight) must not keep the agent's event loop alive on its own.
    this.#watch.setKeepAlive(false);
  }

  send(message: Buffer): void {
    if (this.#closed) throw Object.assign(new Error('netlink send: socket closed'), { code: 'EBADF' });
    addon().netlinkSend(this.fd, message);
  }

  /** While requests are in flight the socket should keep the process alive. */
  setKeepAlive(keep: boolean): void {
    this.#watch?.setKeepAlive(keep);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch?.close();
    this.#watch = undefined;
    native().closeFd(this.fd);
  }
}
