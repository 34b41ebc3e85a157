// ttRPC over a virtio-serial port (/dev/virtio-ports/NAME) for hosts without vhost-vsock:
// one byte stream per host connection to the QEMU chardev socket. The port is opened once and
// kept open: closing it makes the guest driver drop input already queued, so a host that
// connected while we were reopening lost its first request. When the host goes away the port
// reads EOF; that ends the session's ttRPC connection, and a fresh stream over the same fd
// serves the next host connection. (A host that disconnects and reconnects before we read the
// EOF continues the old stream: its stream id 1 tells the ttRPC server a new client has begun,
// see ConnectionOptions.clientsRestartAtStreamOne.)
//
// Between hosts the port polls readable with POLLHUP, so waiting on poll would spin. The driver
// sends SIGIO when the host opens or closes its end (with O_ASYNC set), so the agent sleeps until
// then. Where fcntl refuses O_ASYNC, the port is checked on a backing-off timer instead.
//
// Node's SIGIO handle does not hold the event loop (signal handles are unref'd), and between
// hosts no stream is open: so the listener holds the loop itself, from open to close, as a
// listening socket does. Without it an agent whose only listener is this port would end (exit 0)
// while waiting for its first host: as PID 1, a kernel panic.
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import type { ConnectionHandler, Listener } from './listen';

const RECHECK_FIRST_MS = 100;
const RECHECK_MAX_MS = 2000;
/** The longest timer Node takes; the hold does nothing when it fires. */
const HOLD_LOOP_MS = 2 ** 31 - 1;

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
  const [{ FdStream }, { native }, { POLLHUP }] = await Promise.all([
    import('../native/fd-stream'),
    import('../native/addon'),
    import('../native/constants'),
  ]);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new Error(`listen ${text}: open ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const addon = native();
  let closed = false;
  let current: InstanceType<typeof FdStream> | undefined;
  let waiting = false;
  let timer: NodeJS.Timeout | undefined;
  let recheckMs = RECHECK_FIRST_MS;
  let sigioArmed = false;

  // POLLHUP while the host's end is closed (POLLIN then too: reads return EOF at once).
  const hostPresent = (): boolean => (addon.pollFd(fd) & POLLHUP) === 0;
  const setSigio = (on: boolean): boolean => {
    try {
      addon.setAsyncSignal(fd, on ? 1 : 0);
      return true;
    } catch {
      return false;
    }
  };

  const serve = (): void => {
    waiting = false;
    recheckMs = RECHECK_FIRST_MS;
    if (sigioArmed) sigioArmed = !setSigio(false); // while serving, data would raise SIGIO too
    const stream = new FdStream(fd, { allowHalfOpen: false, ownsFd: false });
    current = stream;
    stream.once('close', () => {
      current = undefined;
      waitForHost();
    });
    stream.on('error', () => undefined); // 'close' follows; the next host connection gets a new stream
    onConnection(stream, { sharedByClients: true });
  };

  const waitForHost = (): void => {
    if (closed) return;
    waiting = true;
    // Armed before the check: a host that connects in between still raises SIGIO.
    sigioArmed = sigioArmed || setSigio(true);
    if (hostPresent()) return serve();
    if (!sigioArmed) {
      timer = setTimeout(waitForHost, recheckMs);
      recheckMs = Math.min(recheckMs * 2, RECHECK_MAX_MS);
    }
  };

  const onSigio = (): void => {
    if (waiting && !closed && hostPresent()) serve();
  };
  process.on('SIGIO', onSigio);
  const holdLoop = setInterval(() => undefined, HOLD_LOOP_MS);
  waitForHost();
  return {
    address: text,
    close: async () => {
      closed = true;
      clearInterval(holdLoop);
      process.off('SIGIO', onSigio);
      if (timer) clearTimeout(timer);
      current?.destroy();
      if (sigioArmed) setSigio(false);
      closeSync(fd);
    },
  };
}
