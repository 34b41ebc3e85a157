// ttRPC over a virtio-serial port (/dev/virtio-ports/NAME) for hosts without vhost-vsock:
// one byte stream per host connection to the QEMU chardev socket. The port is opened once and
// kept open: closing it makes the guest driver drop input already queued, so a host that
// connected while we were reopening lost its first request. When the host goes away the port
// reads EOF; that ends the session's ttRPC connection, and after a short pause (the port polls
// readable, with POLLHUP, while no host is connected, so waiting on poll would spin) a fresh
// stream over the same fd serves the next host connection. (A host that disconnects and
// reconnects before we read the EOF continues the old stream: its stream id 1 tells the ttRPC
// server a new client has begun, see ConnectionOptions.clientsRestartAtStreamOne.)
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import type { ConnectionHandler, Listener } from './listen';

const REOPEN_DELAY_MS = 100;

/**
 * /dev/virtio-ports/NAME is a udev symlink; a guest without udev has only /dev/vportNpM, whose
 * name is in /sys/class/virtio-ports/vportNpM/name.
 */
export function resolveSerialPort(path: string, sysClass = '/sys/class/virtio-ports'): string {
  const prefix = '/dev/virtio-ports/';
  if (existsSync(path) || !path.startsWith(prefix)) return path;
  const wanted = path.slice(prefix.length);
  let ports: string[] = [];
  try {
    ports = readdirSync(sysClass);
  } catch {
    return path;
  }
  for (const port of ports) {
    try {
      if (readFileSync(`${sysClass}/${port}/name`, 'utf8').trim() === wanted) return `/dev/${port}`;
    } catch {
      // a port without a name
    }
  }
  return path;
}

export async function serveSerialPort(requested: string, text: string, onConnection: ConnectionHandler): Promise<Listener> {
  const path = resolveSerialPort(requested);
  const { FdStream } = await import('../native/fd-stream');
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new Error(`listen ${text}: open ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  let closed = false;
  let current: InstanceType<typeof FdStream> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const serve = (): void => {
    if (closed) return;
    const stream = new FdStream(fd, { allowHalfOpen: false, ownsFd: false });
    current = stream;
    stream.once('close', () => {
      current = undefined;
      if (!closed) timer = setTimeout(serve, REOPEN_DELAY_MS);
    });
    stream.on('error', () => undefined); // 'close' follows; the next host connection gets a new stream
    onConnection(stream, { sharedByClients: true });
  };
  serve();
  return {
    address: text,
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      current?.destroy();
      closeSync(fd);
    },
  };
}
