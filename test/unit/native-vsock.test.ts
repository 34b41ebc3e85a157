// vsock through the addon. What runs for real depends on the kernel:
//   - no AF_VSOCK at all: our API must fail with a clear error;
//   - AF_VSOCK without loopback (a guest without vsock_loopback, like this build machine):
//     listening works, connects fail cleanly through the non-blocking completion path;
//   - with loopback (CID 1): a real connection, peer CID/port, data both ways.
// The guest VM tests run the loopback case with the agent's own kernel.
import { once } from 'node:events';
import { beforeAll, describe, expect, it } from 'vitest';
import { VMADDR_CID_ANY, VMADDR_CID_HOST, VMADDR_CID_LOCAL, VsockServer, connectVsock, vsockLocalCid, type VsockAddress, type VsockSocket } from '../../agent/src/native';

type VsockSupport = 'none' | 'no-loopback' | 'loopback';

let support: VsockSupport;
let server: VsockServer | undefined;
let port = 0;
let listenError: NodeJS.ErrnoException | undefined;
let loopbackError: NodeJS.ErrnoException | undefined;
const accepted: Array<{ socket: VsockSocket; peer: VsockAddress }> = [];

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 40000);
}

beforeAll(async () => {
  for (let attempt = 0; attempt < 5 && !server && !listenError; attempt++) {
    port = randomPort();
    try {
      server = new VsockServer().listen(-1, port);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') listenError = err as NodeJS.ErrnoException;
    }
  }
  if (!server) {
    support = 'none';
    return;
  }
  server.on('connection', (socket, peer) => accepted.push({ socket, peer }));
  try {
    const probe = await connectVsock(VMADDR_CID_LOCAL, port, { timeoutMs: 5000 });
    probe.destroy();
    support = 'loopback';
  } catch (err) {
    loopbackError = err as NodeJS.ErrnoException;
    support = 'no-loopback';
  }
  console.log(`vsock on this kernel: ${support}${loopbackError ? ` (${loopbackError.message})` : ''}`);
  return () => server?.close();
});

describe('vsock without AF_VSOCK in the kernel', () => {
  it('fails to listen and to connect with an error that says so', async ({ skip }) => {
    if (support !== 'none') skip();
    expect(listenError?.code).toMatch(/^(EAFNOSUPPORT|ENODEV|EPROTONOSUPPORT)$/);
    expect(listenError?.message).toMatch(/^vsock listen cid -1 port \d+ \(no AF_VSOCK support in this kernel\): E[A-Z]+$/);
    expect(listenError?.syscall).toBe('socket');
    const err = await connectVsock(VMADDR_CID_HOST, 1024).catch((e: NodeJS.ErrnoException) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^vsock connect cid 2 port 1024 \(no AF_VSOCK support in this kernel\): E[A-Z]+$/);
  });
});

describe('vsock with AF_VSOCK', () => {
  it('listens on any CID and refuses a second listener on the same port', ({ skip }) => {
    if (support === 'none') skip();
    expect(server?.listening).toBe(true);
    expect(server?.address()).toEqual({ cid: -1, port });
    expect(VMADDR_CID_ANY >>> 0).toBe(0xffffffff);
    let err: NodeJS.ErrnoException | undefined;
    try {
      new VsockServer().listen(-1, port);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.code).toBe('EADDRINUSE');
    expect(err?.syscall).toBe('bind');
    expect(err?.errno).toBe(-98);
    expect(err?.message).toBe(`vsock listen cid -1 port ${port}: EADDRINUSE`);
  });

  it('knows its own CID (a guest has CID >= 3)', ({ skip }) => {
    if (support === 'none') skip();
    expect(vsockLocalCid()).toBeGreaterThanOrEqual(3);
  });

  it('reports a failed connect to the host through the non-blocking completion', async ({ skip }) => {
    if (support === 'none') skip();
    // Nobody listens on this host port; the host resets (or the transport refuses) the connect.
    const unused = randomPort();
    const err = (await connectVsock(VMADDR_CID_HOST, unused, { timeoutMs: 10_000 }).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(new RegExp(`^vsock connect cid 2 port ${unused}: E[A-Z]+`));
    expect(err.syscall).toBe('connect');
  });

  it('gives up on a connect after timeoutMs', async ({ skip }) => {
    if (support !== 'no-loopback') skip();
    // Without a loopback transport a connect to CID 1 hangs until the kernel's own timeout.
    const err = (await connectVsock(VMADDR_CID_LOCAL, port, { timeoutMs: 50 }).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toBe(`vsock connect cid 1 port ${port}: ETIMEDOUT after 50 ms`);
    // The kernel's own verdict came from the probe in beforeAll, through the same completion path.
    expect(loopbackError?.message).toMatch(new RegExp(`^vsock connect cid 1 port ${port}: E[A-Z]+`));
  });

  it('over loopback: accepts with the peer CID and port, carries data both ways', async ({ skip }) => {
    if (support !== 'loopback') skip();
    const waitForConnection = once(server!, 'connection') as Promise<[VsockSocket, VsockAddress]>;
    const client = await connectVsock(VMADDR_CID_LOCAL, port);
    const [socket, peer] = await waitForConnection;
    expect(peer.cid).toBe(VMADDR_CID_LOCAL);
    expect(peer.port).toBeGreaterThan(0);
    expect(socket.peer).toEqual(peer);
    socket.pipe(socket); // echo
    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    const ended = once(client, 'end');
    client.end(payload);
    await ended;
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
  });
});
