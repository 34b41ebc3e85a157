// vsock through the native addon (Node itself cannot open AF_VSOCK sockets).
import type { Duplex } from 'node:stream';
import type { ConnectionHandler, Listener, ListenOptions } from './listen';

const VMADDR_CID_HOST = 2;

export async function connectVsock(cid: number, port: number, _opts: { timeoutMs?: number } = {}): Promise<Duplex> {
  throw Object.assign(new Error(`vsock connect to ${cid}:${port}: the native addon is not available yet`), { code: 'ENOSYS' });
}

export async function listenVsock(
  cid: number,
  port: number,
  text: string,
  _onConnection: ConnectionHandler,
  _opts: ListenOptions,
): Promise<Listener> {
  void VMADDR_CID_HOST;
  throw Object.assign(new Error(`listen ${text} (cid ${cid}, port ${port}): the native addon is not available yet`), { code: 'ENOSYS' });
}
