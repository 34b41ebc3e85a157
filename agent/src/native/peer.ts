// Who is on the other end of a unix socket connection (SO_PEERCRED).
import type { Socket } from 'node:net';
import { native } from './addon';

/** The pid of the process that connected `socket` (a connection accepted by a unix net.Server). */
export function unixPeerPid(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('peer pid: the socket has no file descriptor (not a connected unix socket)');
  return native().peerPid(fd);
}
