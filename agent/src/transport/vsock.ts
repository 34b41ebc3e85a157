// vsock through the native addon (Node itself cannot open AF_VSOCK sockets), with the rule
// that only the host (CID 2) may drive the agent: any process in the guest can dial CID 1 or
// the guest's own CID, so guest-local peers are refused unless explicitly allowed.
import type { Duplex } from 'node:stream';
import type { ConnectionHandler, Listener, ListenOptions } from './listen';

export const VMADDR_CID_HOST = 2;

export async function connectVsock(cid: number, port: number, opts: { timeoutMs?: number } = {}): Promise<Duplex> {
  const native = await import('../native/vsock');
  return native.connectVsock(cid, port, opts);
}

export async function listenVsock(
  cid: number,
  port: number,
  text: string,
  onConnection: ConnectionHandler,
  opts: ListenOptions,
): Promise<Listener> {
  const { VsockServer } = await import('../native/vsock');
  const server = new VsockServer();
  try {
    server.listen(cid === 0xffffffff ? -1 : cid, port);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw Object.assign(new Error(`listen ${text}: ${e.message}`), { code: e.code });
  }
  server.on('connection', (socket, peer) => {
    if (peer.cid !== VMADDR_CID_HOST && !opts.allowLocalPeers) {
      opts.onRefused?.(peer, `vsock peer CID ${peer.cid} is not the host (CID ${VMADDR_CID_HOST})`);
      socket.destroy();
      return;
    }
    onConnection(socket, peer);
  });
  server.on('error', (err) => opts.onRefused?.({}, `vsock listener failed: ${err.message}`));
  return {
    address: text,
    close: async () => server.close(),
  };
}
