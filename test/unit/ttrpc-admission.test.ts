// Bounded work (issue 16): calls in flight per connection and for the server, backpressure on
// a connection at its limit or whose answers are not read, fairness between connections.
import { afterEach, describe, expect, it } from 'vitest';
import { Code, encodeFrame, FrameType, type TtrpcServer } from '../../agent/src/ttrpc';
import { LONG_POLL } from '../../agent/src/ttrpc/admission';
import { decodeResponse, encodeRequest } from '../../agent/src/ttrpc/messages';
import { RawConnection, type ServerFixture, startServer } from '../helpers/ttrpc';

const SVC = 'test.v1.Load';
let fx: ServerFixture | undefined;
afterEach(async () => {
  gate.open();
  await fx?.close();
  fx = undefined;
});

/** Handlers wait on it until it opens (once open, they pass at once). */
class Gate {
  private opened = false;
  private waiters: Array<() => void> = [];
  reset(): void {
    this.opened = false;
  }
  wait(): Promise<void> {
    return this.opened ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
  open(): void {
    this.opened = true;
    for (const w of this.waiters.splice(0)) w();
  }
}
const gate = new Gate();

/** Counts handlers running at once, as the calls see it. */
const concurrency = { now: 0, max: 0 };

function loadServer(opts: Parameters<typeof startServer>[1] = {}) {
  gate.reset();
  concurrency.now = concurrency.max = 0;
  return startServer((s) => {
    const counted = async (work: () => Promise<void>) => {
      concurrency.max = Math.max(concurrency.max, ++concurrency.now);
      try {
        await work();
      } finally {
        concurrency.now--;
      }
    };
    // Runs over a few turns of the event loop, as real handlers do (file reads, processes).
    s.register(SVC, 'Work', async (req) => {
      await counted(() => new Promise((r) => setImmediate(r)));
      return req;
    });
    // Waits for the gate, whatever ctx.signal says (a handler that is slow to notice).
    s.register(SVC, 'Gated', async () => {
      await counted(() => gate.wait());
      return Buffer.from('done');
    });
    s.register(SVC, 'Heavy', async () => {
      await counted(() => gate.wait());
      return Buffer.from('heavy');
    });
    s.register(SVC, 'Poll', async () => {
      await gate.wait();
      return Buffer.from('event');
    });
    s.register(SVC, 'Reply', () => Buffer.alloc(16 << 10, 7));
    s.register(SVC, 'Health', () => Buffer.from('serving'));
  }, {
    callWeight: (_svc, method) => (method === 'Heavy' ? 4 : method === 'Poll' ? LONG_POLL : 1),
    ...opts,
  });
}

function requests(firstId: number, n: number, method: string, payload = Buffer.alloc(0), timeoutNano = 0n): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    frames.push(encodeFrame(firstId + 2 * i, FrameType.Request, 0, encodeRequest({ service: SVC, method, payload, timeoutNano })));
  }
  return Buffer.concat(frames);
}

interface ConnectionView {
  held?: { req: { method: string } };
  readingPaused: boolean;
  channel: { queuedBytes: number; socket: { bytesRead: number } };
}
function connections(server: TtrpcServer): ConnectionView[] {
  return [...(server as unknown as { connections: Set<ConnectionView> }).connections];
}

const statusOf = (payload: Buffer) => decodeResponse(payload).status;

describe('calls in flight per connection', () => {
  it('answers 5,000 pipelined calls on one connection, never more than the limit running at once', async () => {
    fx = await loadServer({ maxInFlight: 8 });
    const raw = await RawConnection.open(fx.socketPath);
    raw.write(requests(1, 5000, 'Work', Buffer.from('x')));
    const frames = await raw.waitFrames(5000, 60_000);
    expect(frames.every((f) => f.type === FrameType.Response && statusOf(f.payload) === undefined)).toBe(true);
    expect(new Set(frames.map((f) => f.streamId)).size).toBe(5000);
    expect(concurrency.max).toBe(8);
    await expect.poll(() => fx!.server.activeCalls).toBe(0);
    expect(fx.server.inFlightUnits).toBe(0);
    raw.close();
  });

  it('stops reading a connection whose calls fill its limit; after the client closes, everything is freed', async () => {
    fx = await loadServer({ maxInFlight: 8 });
    const raw = await RawConnection.open(fx.socketPath);
    raw.socket.pause(); // never reads its answers
    const flood = requests(1, 10_000, 'Gated', Buffer.alloc(1000, 1)); // ~10 MB
    raw.write(flood);
    // The server holds the 9th call and reads nothing more: our writes stall.
    await expect.poll(() => connections(fx!.server)[0]?.held !== undefined, { timeout: 10_000 }).toBe(true);
    const conn = connections(fx.server)[0]!;
    expect(conn.readingPaused).toBe(true);
    expect(fx.server.activeCalls).toBe(8);
    expect(concurrency.now).toBe(8);
    await expect.poll(() => raw.socket.writableLength > 0).toBe(true);
    // What the server has read stays at about one socket read, whatever the client sends.
    const consumed = conn.channel.socket.bytesRead;
    expect(consumed).toBeLessThan(1 << 20);
    expect(consumed).toBeLessThan(flood.length / 8);

    raw.close();
    // The 8 handlers still run (they do not watch ctx.signal) and hold their room until they
    // settle; a connection that is not read learns of its client's end when it writes (their
    // answers) or reads again.
    expect(fx.server.activeCalls).toBe(8);
    gate.open();
    await expect.poll(() => fx!.server.connectionCount).toBe(0);
    await expect.poll(() => fx!.server.activeCalls).toBe(0);
    expect(fx.server.inFlightUnits).toBe(0);
    expect(conn.channel.queuedBytes).toBe(0);
  });

  it('stops reading a client that does not read its answers once its write queue is over the bound', async () => {
    fx = await loadServer({ maxInFlight: 8, highWaterBytes: 64 << 10 });
    const raw = await RawConnection.open(fx.socketPath);
    raw.socket.pause();
    const flood = requests(1, 10_000, 'Reply', Buffer.alloc(1000, 1)); // 160 MB of answers if all were made
    raw.write(flood);
    await expect
      .poll(() => {
        const c = connections(fx!.server)[0];
        return c !== undefined && c.readingPaused && c.channel.queuedBytes > (64 << 10);
      }, { timeout: 10_000 })
      .toBe(true);
    const conn = connections(fx.server)[0]!;
    // At most the limit's worth of answers past the bound: no call starts while it is over.
    expect(conn.channel.queuedBytes).toBeLessThan((64 << 10) + 8 * 16_500);
    expect(conn.channel.socket.bytesRead).toBeLessThan(1 << 20);
    expect(conn.channel.socket.bytesRead).toBeLessThan(flood.length / 8);
    expect(fx.server.activeCalls).toBe(0);
    raw.close();
    await expect.poll(() => fx!.server.connectionCount).toBe(0);
    expect(conn.channel.queuedBytes).toBe(0);
  });
});

describe('fairness and the server-wide limit', () => {
  it("answers Health on connection B while connection A's flood fills A's limit", async () => {
    fx = await loadServer({ maxInFlight: 8, maxServerInFlight: 16, reservedForLight: 4 });
    const a = await RawConnection.open(fx.socketPath);
    a.write(requests(1, 5000, 'Gated'));
    await expect.poll(() => concurrency.now).toBe(8);
    const b = await fx.client();
    // A's calls are all waiting on the gate: B's answer cannot be luck of timing.
    await expect(b.call(SVC, 'Health', Buffer.alloc(0))).resolves.toEqual(Buffer.from('serving'));
    expect(a.frames).toHaveLength(0);
    gate.open();
    const frames = await a.waitFrames(5000, 60_000);
    expect(frames.every((f) => decodeResponse(f.payload).payload.toString() === 'done')).toBe(true);
    expect(concurrency.max).toBe(8);
  });

  it('keeps part of the server budget for light calls: Health passes heavy floods on several connections', async () => {
    // Heavy calls may hold 16 - 4 = 12 units: 3 of weight 4, over all connections.
    fx = await loadServer({ maxInFlight: 8, maxServerInFlight: 16, reservedForLight: 4 });
    const floods = await Promise.all([0, 1, 2].map(() => RawConnection.open(fx!.socketPath)));
    for (const f of floods) f.write(requests(1, 500, 'Heavy'));
    await expect.poll(() => fx!.server.inFlightUnits).toBe(12);
    await expect.poll(() => connections(fx!.server).filter((c) => c.held).length).toBe(3);
    expect(concurrency.now).toBe(3);
    const b = await fx.client();
    await expect(b.call(SVC, 'Health', Buffer.alloc(0))).resolves.toEqual(Buffer.from('serving'));
    gate.open();
    const all = await Promise.all(floods.map((f) => f.waitFrames(500, 60_000)));
    for (const frames of all) expect(frames.every((f) => decodeResponse(f.payload).payload.toString() === 'heavy')).toBe(true);
    expect(concurrency.max).toBe(3);
    expect(fx.server.inFlightUnits).toBe(0);
  });

  it('a call that finds the server budget full waits for room, and runs when room frees', async () => {
    fx = await loadServer({ maxInFlight: 8, maxServerInFlight: 8, reservedForLight: 0 });
    const a = await RawConnection.open(fx.socketPath);
    a.write(requests(1, 100, 'Gated'));
    await expect.poll(() => fx!.server.inFlightUnits).toBe(8);
    const b = await fx.client();
    let answered = false;
    const call = b.call(SVC, 'Work', Buffer.from('b')).finally(() => (answered = true));
    // B's call was read and waits in the server's queue, unanswered.
    await expect.poll(() => connections(fx!.server).find((c) => c.held?.req.method === 'Work') !== undefined).toBe(true);
    expect(answered).toBe(false);
    gate.open();
    await expect(call).resolves.toEqual(Buffer.from('b'));
    await a.waitFrames(100);
  });

  it('answers RESOURCE_EXHAUSTED naming the limit when no room frees within the admission timeout', async () => {
    fx = await loadServer({ maxInFlight: 8, maxServerInFlight: 8, reservedForLight: 0, admissionTimeoutMs: 50 });
    const a = await RawConnection.open(fx.socketPath);
    a.write(requests(1, 8, 'Gated'));
    await expect.poll(() => fx!.server.inFlightUnits).toBe(8);
    const b = await fx.client();
    await expect(b.call(SVC, 'Work', Buffer.from('b'))).rejects.toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
      message: expect.stringContaining('maxServerInFlight'),
    });
    // The connection reads on: its next call waits, and runs once room frees.
    const next = b.call(SVC, 'Work', Buffer.from('again'));
    await expect.poll(() => connections(fx!.server).some((c) => c.held?.req.method === 'Work')).toBe(true);
    gate.open();
    await expect(next).resolves.toEqual(Buffer.from('again'));
  });

  it("a waiting call's own deadline gives DEADLINE_EXCEEDED, the connection's limit is named when it is the cause", async () => {
    fx = await loadServer({ maxInFlight: 4, admissionTimeoutMs: 50 });
    const a = await RawConnection.open(fx.socketPath);
    a.write(requests(1, 4, 'Gated'));
    a.write(requests(9, 1, 'Work', Buffer.alloc(0), 20_000_000n)); // 20 ms
    a.write(requests(11, 1, 'Work'));
    const frames = await a.waitFrames(2);
    expect(frames.map((f) => f.streamId)).toEqual([9, 11]);
    expect(statusOf(frames[0]!.payload)).toMatchObject({ code: Code.DEADLINE_EXCEEDED, message: expect.stringContaining('waiting to start') });
    expect(statusOf(frames[1]!.payload)).toMatchObject({ code: Code.RESOURCE_EXHAUSTED, message: expect.stringContaining('maxInFlight') });
    gate.open();
    await a.waitFrames(6);
  });

  it('answers long polls over their limits RESOURCE_EXHAUSTED at once; they take no work units', async () => {
    fx = await loadServer({ maxInFlight: 8, maxLongPollsPerConnection: 3, maxLongPolls: 5 });
    const a = await RawConnection.open(fx.socketPath);
    a.write(requests(1, 4, 'Poll'));
    const [over] = await a.waitFrames(1);
    expect(over!.streamId).toBe(7);
    expect(statusOf(over!.payload)).toMatchObject({ code: Code.RESOURCE_EXHAUSTED, message: expect.stringContaining('maxLongPollsPerConnection 3') });
    expect(fx.server.inFlightUnits).toBe(0);
    expect(fx.server.activeCalls).toBe(3);
    const b = await RawConnection.open(fx.socketPath);
    b.write(requests(1, 3, 'Poll'));
    const [overAll] = await b.waitFrames(1);
    expect(overAll!.streamId).toBe(5);
    expect(statusOf(overAll!.payload)).toMatchObject({ code: Code.RESOURCE_EXHAUSTED, message: expect.stringContaining('maxLongPolls') });
    // Work calls still run beside the long polls.
    const c = await fx.client();
    await expect(c.call(SVC, 'Health', Buffer.alloc(0))).resolves.toEqual(Buffer.from('serving'));
    gate.open();
    await a.waitFrames(4);
    await b.waitFrames(3);
    await expect.poll(() => fx!.server.activeCalls).toBe(0);
  });
});
