// Receiving one fd over a unix socket with SCM_RIGHTS: crun's --console-socket hands the pty
// master of a container's terminal to whoever listens on the path.
import { unlinkSync } from 'node:fs';
import { native } from './addon';
import { FdWatch } from './fd-watch';

/**
 * Listens on `socketPath` at once (the socket exists when this returns, so crun may be started
 * right after), resolves with the first fd a peer sends, then closes and removes the socket.
 * The caller owns the returned fd; a peer that sends several in one message has the first taken
 * and the others closed. Rejects with code ETIMEDOUT after `timeoutMs`.
 */
export function receiveFd(socketPath: string, timeoutMs: number): Promise<number> {
  const addon = native();
  const listenFd = addon.unixListen(socketPath, 4);
  return new Promise((resolve, reject) => {
    const connections = new Map<number, FdWatch>();
    let settled = false;
    let listenWatch: FdWatch;
    try {
      listenWatch = new FdWatch(listenFd, () => acceptPending(), (err) => settle(err));
    } catch (err) {
      addon.closeFd(listenFd);
      removeSocket(socketPath);
      reject(err as Error);
      return;
    }

    function dropConnection(fd: number): void {
      connections.get(fd)?.close();
      connections.delete(fd);
      addon.closeFd(fd);
    }

    function settle(result: number | Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      listenWatch.close();
      addon.closeFd(listenFd);
      for (const fd of [...connections.keys()]) dropConnection(fd);
      removeSocket(socketPath);
      if (typeof result === 'number') resolve(result);
      else reject(result);
    }

    function acceptPending(): void {
      for (;;) {
        let fd: number | null;
        try {
          fd = addon.unixAccept(listenFd);
        } catch (err) {
          settle(err as Error);
          return;
        }
        if (fd === null) return;
        const connFd = fd;
        let watch: FdWatch;
        try {
          watch = new FdWatch(connFd, () => receiveFrom(connFd), () => dropConnection(connFd));
        } catch {
          addon.closeFd(connFd); // cannot watch this peer (e.g. ENOMEM); another may still send
          continue;
        }
        connections.set(connFd, watch);
        watch.watch({ readable: true });
      }
    }

    function receiveFrom(connFd: number): void {
      let received: number | null;
      try {
        received = addon.receiveFd(connFd);
      } catch {
        dropConnection(connFd); // this peer failed; another may still send
        return;
      }
      if (received === null) return; // nothing yet
      if (received < 0) {
        dropConnection(connFd); // closed without sending an fd
        return;
      }
      settle(received);
    }

    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`receive fd on console socket ${socketPath}: ETIMEDOUT after ${timeoutMs} ms`), {
        code: 'ETIMEDOUT',
      });
      settle(err);
    }, timeoutMs);
    listenWatch.watch({ readable: true });
  });
}

function removeSocket(socketPath: string): void {
  try {
    unlinkSync(socketPath);
  } catch {
    // already gone: nothing to clean up
  }
}
