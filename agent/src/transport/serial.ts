// ttRPC over a virtio-serial port (/dev/virtio-ports/NAME): one long-lived byte stream.
import type { ConnectionHandler, Listener } from './listen';

export async function serveSerialPort(path: string, text: string, _onConnection: ConnectionHandler): Promise<Listener> {
  throw Object.assign(new Error(`listen ${text}: serial port ${path} transport is not available yet`), { code: 'ENOSYS' });
}
