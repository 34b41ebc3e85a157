import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Code, encodeFrame, Flag, FrameType, MAX_PAYLOAD_BYTES, RpcError, TtrpcClient } from '../../agent/src/ttrpc';
import { decodeResponse, encodeRequest } from '../../agent/src/ttrpc/messages';
import { RawConnection, type ServerFixture, startServer } from '../helpers/ttrpc';

const SVC = 'test.v1.Echo';
let fx: ServerFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

function echoServer(opts?: Parameters<typeof startServer>[1]) {
  return startServer((s) => {
    s.register(SVC, 'Echo', (req) => req);
    s.register(SVC, 'Fail', (req) => {
      throw new RpcError(Number(req.toString()) as Code, `failed as asked (${req.toString()})`);
    });
    s.register(SVC, 'Throw', () => {
      throw new Error('plain error');
    });
    s.register(SVC, 'Delay', async (req) => {
      await new Promise((r) => setTimeout(r, Number(req.toString())));
      return req;
    });
    s.register(SVC, 'Hang', (_req, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))));
    s.register(SVC, 'Metadata', (_req, ctx) => Buffer.from(JSON.stringify(Object.fromEntries(ctx.metadata))));
    s.register(SVC, 'Deadline', (_req, ctx) => Buffer.from(String(ctx.deadline ? ctx.deadline - Date.now() : -1)));
    s.register(SVC, 'Big', (req) => Buffer.alloc(Number(req.toString()), 1));
    s.registerStream(SVC, 'Sum', async (stream) => {
      let total = 0;
      for await (const m of stream.received) total += Number(m.toString());
      return Buffer.from(String(total));
    });
    s.registerStream(SVC, 'Count', async (stream) => {
      const n = Number(stream.request.toString());
      for (let i = 0; i < n; i++) await stream.send(Buffer.from(String(i)));
    });
  }, opts);
}

function rawRequest(id: number, method: string, payload = Buffer.alloc(0), flags = 0, timeoutNano = 0n): Buffer {
  return encodeFrame(id, FrameType.Request, flags, encodeRequest({ service: SVC, method, payload, timeoutNano }));
}

describe('ttRPC server and client', () => {
  it('answers unary calls and many in flight out of order', async () => {
    fx = await echoServer();
    const c = await fx.client();
    expect((await c.call(SVC, 'Echo', Buffer.from('hi'))).toString()).toBe('hi');
    const order: string[] = [];
    const slow = c.call(SVC, 'Delay', Buffer.from('80')).then((r) => order.push(`slow:${r}`));
    const fast = c.call(SVC, 'Delay', Buffer.from('1')).then((r) => order.push(`fast:${r}`));
    await Promise.all([slow, fast]);
    expect(order).toEqual(['fast:1', 'slow:80']);
  });

  it('returns handler errors as their gRPC code and message', async () => {
    fx = await echoServer();
    const c = await fx.client();
    await expect(c.call(SVC, 'Fail', Buffer.from('5'))).rejects.toMatchObject({ code: Code.NOT_FOUND, message: 'failed as asked (5)' });
    // Never UNKNOWN: an error nothing mapped is the server's own (INTERNAL), named by its method.
    await expect(c.call(SVC, 'Throw', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.INTERNAL, message: 'Throw: plain error' });
  });

  it('answers UNIMPLEMENTED for an unknown service or method, naming it', async () => {
    fx = await echoServer();
    const c = await fx.client();
    await expect(c.call('no.Such', 'X', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.UNIMPLEMENTED, message: expect.stringContaining('no.Such') });
    await expect(c.call(SVC, 'Nope', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.UNIMPLEMENTED, message: expect.stringContaining('Nope') });
  });

  it('passes metadata and the deadline to handlers', async () => {
    fx = await echoServer();
    const c = await fx.client();
    const md = JSON.parse((await c.call(SVC, 'Metadata', Buffer.alloc(0), { metadata: { a: 'x', b: ['y', 'z'] } })).toString());
    expect(md).toEqual({ a: ['x'], b: ['y', 'z'] });
    const left = Number((await c.call(SVC, 'Deadline', Buffer.alloc(0), { timeoutMs: 5000 })).toString());
    expect(left).toBeGreaterThan(4000);
    expect(left).toBeLessThanOrEqual(5000);
  });

  it('honours timeout_nano: DEADLINE_EXCEEDED from the server, handler aborted, connection goes on', async () => {
    fx = await echoServer();
    const raw = await RawConnection.open(fx.socketPath);
    raw.write(rawRequest(1, 'Hang', Buffer.alloc(0), 0, 50_000_000n));
    const [f] = await raw.waitFrames(1);
    expect(f!.streamId).toBe(1);
    expect(decodeResponse(f!.payload).status?.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(fx.server.activeCalls).toBe(0);
    raw.write(rawRequest(3, 'Echo', Buffer.from('after')));
    const [, g] = await raw.waitFrames(2);
    expect(decodeResponse(g!.payload).payload.toString()).toBe('after');
    raw.close();
  });

  it('rejects even and reused stream ids with INVALID_ARGUMENT and keeps serving', async () => {
    fx = await echoServer();
    const raw = await RawConnection.open(fx.socketPath);
    raw.write(rawRequest(2, 'Echo', Buffer.from('even')));
    raw.write(rawRequest(5, 'Echo', Buffer.from('five')));
    raw.write(rawRequest(5, 'Echo', Buffer.from('again')));
    raw.write(rawRequest(3, 'Echo', Buffer.from('lower')));
    raw.write(rawRequest(7, 'Echo', Buffer.from('seven')));
    const frames = await raw.waitFrames(5);
    const byId = frames.map((f) => [f.streamId, decodeResponse(f.payload)] as const);
    expect(byId[0]![0]).toBe(2);
    expect(byId[0]![1].status).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('even') });
    expect(byId.filter(([id, r]) => id === 5 && r.payload.toString() === 'five')).toHaveLength(1);
    expect(byId.filter(([id, r]) => (id === 5 || id === 3) && r.status?.code === Code.INVALID_ARGUMENT)).toHaveLength(2);
    expect(byId.find(([id]) => id === 7)![1].payload.toString()).toBe('seven');
    raw.close();
  });

  it('on a stream shared by clients (virtio-serial), takes stream id 1 as a new client and cancels the old one', async () => {
    fx = await echoServer();
    const dir = mkdtempSync(path.join(tmpdir(), 'ttrpc-shared-'));
    const sock = path.join(dir, 's.sock');
    const listener = createServer((s) => fx!.server.serveConnection(s, { clientsRestartAtStreamOne: true }));
    await new Promise<void>((r) => listener.listen(sock, r));
    try {
      const raw = await RawConnection.open(sock);
      raw.write(rawRequest(1, 'Hang'));
      raw.write(rawRequest(3, 'Echo', Buffer.from('old client')));
      const [old] = await raw.waitFrames(1);
      expect(decodeResponse(old!.payload).payload.toString()).toBe('old client');
      expect(fx.server.activeCalls).toBe(1);
      // The host reconnected: the guest sees the same byte stream, starting over at id 1.
      raw.write(rawRequest(1, 'Echo', Buffer.from('new client')));
      const [, fresh] = await raw.waitFrames(2);
      expect(fresh!.streamId).toBe(1);
      expect(decodeResponse(fresh!.payload).payload.toString()).toBe('new client');
      expect(fx.server.activeCalls).toBe(0);
      // Within one client, ids must still increase.
      raw.write(rawRequest(3, 'Echo', Buffer.from('three')));
      await raw.waitFrames(3);
      raw.write(rawRequest(3, 'Echo', Buffer.from('reused')));
      const frames = await raw.waitFrames(4);
      expect(decodeResponse(frames[2]!.payload).payload.toString()).toBe('three');
      expect(decodeResponse(frames[3]!.payload).status).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('reused') });
      raw.close();
    } finally {
      listener.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers RESOURCE_EXHAUSTED for a frame over 4 MiB and keeps the connection', async () => {
    fx = await echoServer();
    const raw = await RawConnection.open(fx.socketPath);
    raw.write(rawRequest(1, 'Echo', Buffer.alloc(MAX_PAYLOAD_BYTES + 1)));
    raw.write(rawRequest(3, 'Echo', Buffer.from('small')));
    const [a, b] = await raw.waitFrames(2);
    expect(a!.streamId).toBe(1);
    expect(decodeResponse(a!.payload).status).toMatchObject({ code: Code.RESOURCE_EXHAUSTED, message: expect.stringContaining('exceeds') });
    expect(decodeResponse(b!.payload).payload.toString()).toBe('small');
    raw.close();
  });

  it('turns an oversized response into RESOURCE_EXHAUSTED; the client refuses oversized requests locally', async () => {
    fx = await echoServer();
    const c = await fx.client();
    await expect(c.call(SVC, 'Big', Buffer.from(String(MAX_PAYLOAD_BYTES + 10)))).rejects.toMatchObject({ code: Code.RESOURCE_EXHAUSTED });
    await expect(c.call(SVC, 'Echo', Buffer.alloc(MAX_PAYLOAD_BYTES + 1))).rejects.toMatchObject({ code: Code.RESOURCE_EXHAUSTED });
    expect((await c.call(SVC, 'Big', Buffer.from('1000'))).length).toBe(1000);
  });

  it('answers garbage protobuf in a request with INVALID_ARGUMENT', async () => {
    fx = await echoServer();
    const raw = await RawConnection.open(fx.socketPath);
    raw.write(encodeFrame(1, FrameType.Request, 0, Buffer.from([0x0a, 0xff, 0xff, 0x01])));
    raw.write(encodeFrame(3, FrameType.Request, 0, Buffer.from([0x0b])));
    const frames = await raw.waitFrames(2);
    for (const f of frames) expect(decodeResponse(f.payload).status).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('malformed') });
    raw.close();
  });

  it('streams: client streaming (remote-open, Data, remote-closed) and server streaming', async () => {
    fx = await echoServer();
    const c = await fx.client();
    const up = c.stream(SVC, 'Sum', { clientStreaming: true });
    for (const n of [1, 2, 3, 4]) await up.send(Buffer.from(String(n)));
    up.closeSend();
    expect((await up.done).toString()).toBe('10');

    const down = c.stream(SVC, 'Count', { payload: Buffer.from('5') });
    const got: string[] = [];
    for await (const m of down.received) got.push(m.toString());
    expect(got).toEqual(['0', '1', '2', '3', '4']);
    await expect(down.done).resolves.toBeDefined();
  });

  it('uses the wire flags of the protocol for streams', async () => {
    fx = await echoServer();
    const raw = await RawConnection.open(fx.socketPath);
    raw.write(rawRequest(1, 'Sum', Buffer.alloc(0), Flag.RemoteOpen));
    raw.write(encodeFrame(1, FrameType.Data, 0, Buffer.from('20')));
    raw.write(encodeFrame(1, FrameType.Data, 0, Buffer.from('22')));
    raw.write(encodeFrame(1, FrameType.Data, Flag.RemoteClosed | Flag.NoData, Buffer.alloc(0)));
    const [f] = await raw.waitFrames(1);
    expect(f!.type).toBe(FrameType.Response);
    expect(decodeResponse(f!.payload).payload.toString()).toBe('42');
    raw.write(rawRequest(3, 'Count', Buffer.from('2'), Flag.RemoteClosed));
    const frames = await raw.waitFrames(4);
    expect(frames.slice(1).map((x) => [x.streamId, x.type, x.payload.toString()])).toEqual([
      [3, FrameType.Data, '0'],
      [3, FrameType.Data, '1'],
      [3, FrameType.Response, ''],
    ]);
    raw.close();
  });

  it('cancels the handler when the client disconnects mid-call and leaks no call', async () => {
    let aborted: unknown;
    fx = await startServer((s) =>
      s.register(SVC, 'Hang', (_r, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => {
        aborted = ctx.signal.reason;
        reject(ctx.signal.reason);
      }))),
    );
    const c = await fx.client();
    const p = c.call(SVC, 'Hang', Buffer.alloc(0));
    await expect.poll(() => fx!.server.activeCalls).toBe(1);
    c.close();
    await expect(p).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    await expect.poll(() => fx!.server.activeCalls).toBe(0);
    expect(aborted).toMatchObject({ code: Code.CANCELLED });
    await expect.poll(() => fx!.server.connectionCount).toBe(0);
  });

  it('fails pending calls with a local DEADLINE_EXCEEDED when no answer comes', async () => {
    fx = await echoServer();
    const c = await fx.client();
    const started = Date.now();
    await expect(c.call(SVC, 'Hang', Buffer.alloc(0), { timeoutMs: 100 })).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(c.inFlight).toBe(0);
  });

  it('stops reading from a client that does not read its answers (bounded buffering)', async () => {
    fx = await echoServer({ highWaterBytes: 256 << 10 });
    const raw = await RawConnection.open(fx.socketPath);
    raw.socket.pause(); // never read answers
    const payload = Buffer.alloc(512 << 10, 3);
    let id = 1;
    // 200 x 512 KiB of answers = 100 MiB if the server buffered everything.
    const writeMore = () => {
      while (id < 400) {
        const ok = raw.socket.write(rawRequest(id, 'Echo', payload));
        id += 2;
        if (!ok) return;
      }
    };
    raw.socket.on('drain', writeMore);
    writeMore();
    // The server must stop taking requests: our writes stall well before all 200 are sent.
    await expect.poll(() => raw.socket.writableNeedDrain, { timeout: 10_000 }).toBe(true);
    const stalledAt = id;
    await new Promise<void>((r) => setImmediate(r));
    expect(stalledAt).toBeLessThan(400);
    const sock = [...(fx.server as unknown as { connections: Set<{ channel: { queuedBytes: number } }> }).connections][0]!;
    expect(sock.channel.queuedBytes).toBeLessThan(64 << 20);
    raw.close();
  });
});

describe('ttRPC under load', () => {
  it('serves 1,000 concurrent calls on one connection and on 50 connections', async () => {
    fx = await echoServer();
    const one = await fx.client();
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => one.call(SVC, 'Echo', Buffer.from(String(i)))));
    expect(results.map((r) => Number(r.toString()))).toEqual(Array.from({ length: 1000 }, (_, i) => i));

    const clients: TtrpcClient[] = await Promise.all(Array.from({ length: 50 }, () => fx!.client()));
    const all = await Promise.all(
      clients.flatMap((c, ci) => Array.from({ length: 20 }, (_, i) => c.call(SVC, 'Echo', Buffer.from(`${ci}:${i}`)).then((r) => r.toString()))),
    );
    expect(new Set(all).size).toBe(1000);
    expect(fx.server.activeCalls).toBe(0);
  });

  it('survives random garbage on some connections while others keep working', async () => {
    fx = await echoServer();
    const good = await fx.client();
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let round = 0; round < 50; round++) {
      const raw = await RawConnection.open(fx.socketPath);
      const len = 4 + Math.floor(rand() * 300);
      const junk = Buffer.alloc(len);
      for (let i = 0; i < len; i++) junk[i] = Math.floor(rand() * 256);
      if (round % 3 === 0) junk.writeUInt32BE(Math.floor(rand() * 0xffffffff), 0); // random (often huge) lengths
      raw.write(junk);
      raw.close();
      expect((await good.call(SVC, 'Echo', Buffer.from(String(round)))).toString()).toBe(String(round));
    }
    await expect.poll(() => fx!.server.connectionCount).toBe(1);
  });

  it('does not grow memory over a long loop of calls', async () => {
    fx = await echoServer();
    const c = await fx.client();
    const run = async (n: number) => {
      for (let i = 0; i < n; i += 100) {
        await Promise.all(Array.from({ length: 100 }, () => c.call(SVC, 'Echo', Buffer.alloc(1024))));
      }
    };
    await run(5000);
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    await run(20000);
    global.gc?.();
    const after = process.memoryUsage().heapUsed;
    expect(after - before).toBeLessThan(20 << 20);
    expect(c.inFlight).toBe(0);
    expect(fx.server.activeCalls).toBe(0);
  });
});
