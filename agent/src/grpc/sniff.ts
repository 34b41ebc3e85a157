// One listener, two protocols: an HTTP/2 connection starts with the client preface
// "PRI * HTTP/2.0", while a ttRPC frame's first byte is always 0 (lengths are < 16 MiB).
import { Duplex } from 'node:stream';

const HTTP2_FIRST_BYTE = 0x50; // 'P'

export function sniffProtocol(socket: Duplex, onTtrpc: (s: Duplex) => void, onGrpc: (s: Duplex) => void): void {
  const onReadable = () => {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) return;
    socket.off('readable', onReadable);
    if (chunk[0] === HTTP2_FIRST_BYTE) {
      onGrpc(withPrefix(socket, chunk));
    } else {
      socket.unshift(chunk);
      onTtrpc(socket);
    }
  };
  socket.on('readable', onReadable);
}

// Node's HTTP/2 reads a net.Socket's handle directly, which would skip bytes we already took;
// handing it a plain Duplex makes it go through the stream API, prefix included.
function withPrefix(socket: Duplex, prefix: Buffer): Duplex {
  const wrapped = new Duplex({
    read: () => void socket.resume(),
    write: (chunk, _enc, cb) => void socket.write(chunk, cb),
    final: (cb) => void socket.end(cb),
    destroy: (err, cb) => {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  wrapped.push(prefix);
  socket.on('data', (c: Buffer) => {
    if (!wrapped.push(c)) socket.pause();
  });
  socket.on('end', () => wrapped.push(null));
  socket.on('error', (e) => wrapped.destroy(e));
  socket.on('close', () => wrapped.destroy());
  socket.resume();
  return wrapped;
}
