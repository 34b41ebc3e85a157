// Agent side: accept byte streams on an address.
import { lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { AddressError, parseAddress } from './address';

export interface PeerInfo {
  /** vsock peer CID (2 = host), when the transport is vsock. */
  cid?: number;
  port?: number;
  /** The stream outlives host connections (virtio-serial): see ConnectionOptions.clientsRestartAtStreamOne. */
  sharedByClients?: boolean;
}

export type ConnectionHandler = (socket: Duplex, peer: PeerInfo) => void;

export interface Listener {
  readonly address: string;
  close(): Promise<void>;
}

export interface ListenOptions {
  /** vsock: accept peers other than the host (CID 2). Off by default: only the host drives the agent. */
  allowLocalPeers?: boolean;
  onRefused?: (peer: PeerInfo, reason: string) => void;
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

async function listenUnix(path: string, text: string, onConnection: ConnectionHandler): Promise<Listener> {
  if (!path.startsWith('\0')) removeStaleSocket(path);
  const server = net.createServer((socket) => onConnection(socket, {}));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`listen ${text}: ${err.code ?? err.message}`)));
    server.listen({ path }, () => resolve());
  });
  return {
    address: text,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function listenAddress(
  address: string,
  onConnection: ConnectionHandler,
  opts: ListenOptions = {},
): Promise<Listener> {
  const addr = parseAddress(address);
  switch (addr.kind) {
    case 'unix':
      return listenUnix(addr.path, address, onConnection);
    case 'vsock': {
      const { listenVsock } = await import('./vsock');
      return listenVsock(addr.cid, addr.port, address, onConnection, opts);
    }
    case 'serial': {
      const { serveSerialPort } = await import('./serial');
      return serveSerialPort(addr.path, address, onConnection);
    }
    case 'hvsock':
      throw new AddressError(`cannot listen on "${address}": hybrid vsock is a host-side proxy; the guest listens on vsock://-1:PORT`);
  }
}
