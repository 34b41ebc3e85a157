// ttRPC over a virtio-serial port (/dev/virtio-ports/NAME) for hosts without vhost-vsock:
// one byte stream that lives as long as the host keeps the QEMU chardev socket open. When the
// host side goes away the port reads EOF; we then reopen it after a short pause (the port
// polls readable while no host is connected, so waiting on poll would spin) and serve the
// next host connection with a fresh ttRPC connection.
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
  let closed = false;
  let current: InstanceType<typeof FdStream> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const open = (): void => {
    if (closed) return;
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (err) {
      if (current === undefined && !opened) throw new Error(`listen ${text}: open ${path}: ${(err as NodeJS.ErrnoException).code}`);
      timer = setTimeout(open, REOPEN_DELAY_MS);
      return;
    }
    let stream: InstanceType<typeof FdStream>;
    try {
      stream = new FdStream(fd, { allowHalfOpen: false });
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    opened = true;
    current = stream;
    stream.once('close', () => {
      current = undefined;
      if (!closed) timer = setTimeout(open, REOPEN_DELAY_MS);
    });
    stream.on('error', () => undefined); // 'close' follows; the next host connection gets a new stream
    onConnection(stream, {});
  };
  let opened = false;
  open();
  return {
    address: text,
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      current?.destroy();
    },
  };
}
