// Host side: open a byte stream to an agent address.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { parseAddress } from './address';

export class DialError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

function connectUnix(path: string, what: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DialError(`connect ${what}: timed out after ${timeoutMs} ms`, 'ETIMEDOUT'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new DialError(`connect ${what}: ${err.code ?? err.message}`, err.code));
    });
  });
}

// Firecracker / Cloud Hypervisor hybrid vsock: "CONNECT <port>\n" then one line starting "OK".
function hybridHandshake(socket: net.Socket, port: number, what: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let seen = Buffer.alloc(0);
    const fail = (msg: string) => {
      cleanup();
      socket.destroy();
      reject(new DialError(`connect ${what}: ${msg}`));
    };
    const timer = setTimeout(() => fail(`no answer to CONNECT ${port} within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const nl = seen.indexOf(0x0a);
      if (nl < 0) {
        if (seen.length > 512) fail('handshake line too long');
        return;
      }
      const line = seen.subarray(0, nl).toString('utf8');
      if (!line.startsWith('OK')) return fail(`hybrid vsock refused CONNECT ${port}: "${line.trim()}"`);
      cleanup();
      const rest = seen.subarray(nl + 1);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onEnd = () => fail(`closed before answering CONNECT ${port}`);
    const onError = (err: NodeJS.ErrnoException) => fail(err.code ?? err.message);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.pause();
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.write(`CONNECT ${port}\n`);
  });
}

export async function dial(address: string, opts: { timeoutMs?: number } = {}): Promise<Duplex> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const addr = parseAddress(address);
  switch (addr.kind) {
    case 'unix':
    case 'serial': // a QEMU virtio-serial chardev is a unix socket on the host
      return connectUnix(addr.path, address, timeoutMs);
    case 'hvsock':
      return hybridHandshake(await connectUnix(addr.path, address, timeoutMs), addr.port, address, timeoutMs);
    case 'vsock': {
      const { connectVsock } = await import('./vsock');
      try {
        return await connectVsock(addr.cid, addr.port, { timeoutMs });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new DialError(`connect ${address}: ${e.code ?? e.message}`, e.code);
      }
    }
  }
}
