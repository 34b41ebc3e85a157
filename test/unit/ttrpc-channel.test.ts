// The channel's write side: a tick's frames leave in one write, large parts are not copied, and
// the bytes are exactly the frames in order; the envelope decoder's shared pieces (no-metadata
// map, name cache) behave like fresh values.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../agent/src/ttrpc/channel';
import { encodeFrame, type Frame, FrameDecoder, FrameType } from '../../agent/src/ttrpc/frame';
import { decodeRequest, encodeRequest } from '../../agent/src/ttrpc/messages';

function channelWithWrites() {
  const socket = new PassThrough();
  const writes: Buffer[] = [];
  const write = socket.write.bind(socket);
  socket.write = ((chunk: Buffer, ...rest: never[]) => {
    writes.push(chunk);
    return write(chunk, ...rest);
  }) as typeof socket.write;
  const channel = new Channel(socket, { frame: () => undefined, oversize: () => undefined, closed: () => undefined });
  return { channel, writes };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

function decodeAll(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  new FrameDecoder({ frame: (f) => frames.push(f), oversize: () => undefined }).push(bytes);
  return frames;
}

describe('Channel writes', () => {
  it("sends a tick's frames in one write, byte for byte the frames in order, and each tick afresh", async () => {
    const { channel, writes } = channelWithWrites();
    const expected: Buffer[] = [];
    // Enough frames to outgrow the channel's first buffer, of sizes around its steps.
    for (let i = 0; i < 300; i++) {
      const payload = Buffer.alloc(i % 7 === 0 ? 3000 : i % 5, i & 0xff);
      const tail = i % 3 === 0 ? Buffer.alloc(i % 11, 0xa0 + (i % 16)) : undefined;
      channel.send(2 * i + 1, FrameType.Response, 0, payload, tail);
      expected.push(encodeFrame(2 * i + 1, FrameType.Response, 0, tail ? Buffer.concat([payload, tail]) : payload));
    }
    expect(writes).toHaveLength(0);
    await tick();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.equals(Buffer.concat(expected))).toBe(true);
    const first = writes[0]!;
    channel.send(1001, FrameType.Data, 0, Buffer.from('next'));
    await tick();
    expect(writes).toHaveLength(2);
    expect(decodeAll(writes[1]!).map((f) => f.payload.toString())).toEqual(['next']);
    // The socket may still hold the first write: later frames never overwrite it.
    expect(first.equals(Buffer.concat(expected))).toBe(true);
  });

  it('writes a large tail as it is and a large payload as a copy, in order with the frames around them', async () => {
    const { channel, writes } = channelWithWrites();
    const big = Buffer.alloc(64 << 10, 7);
    channel.send(1, FrameType.Response, 0, Buffer.from('a'));
    channel.send(3, FrameType.Response, 0, Buffer.from([0x12, 0x80, 0x80, 0x04]), big);
    channel.send(5, FrameType.Data, 0, big);
    channel.send(7, FrameType.Response, 0, Buffer.from('z'));
    await tick();
    // The tail as it is; a payload copied, so that its caller may reuse it.
    expect(writes.filter((w) => w === big)).toHaveLength(1);
    big[0] = 8;
    const frames = decodeAll(Buffer.concat(writes));
    expect(frames.map((f) => [f.streamId, f.payload.length])).toEqual([[1, 1], [3, 4 + big.length], [5, big.length], [7, 1]]);
    expect(frames[2]!.payload[0]).toBe(7);
  });
});

describe('FrameDecoder under arbitrary chunking', () => {
  it('delivers every frame exactly once, whatever the chunk boundaries and pauses', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const payloads = Array.from({ length: 1 + rnd(20) }, () => Buffer.from(Array.from({ length: rnd(4) === 0 ? rnd(300) : rnd(12) }, () => rnd(256))));
      const bytes = Buffer.concat(payloads.map((p, i) => encodeFrame(2 * i + 1, FrameType.Request, 0, p)));
      const got: Frame[] = [];
      const oversized: number[] = [];
      const decoder: FrameDecoder = new FrameDecoder({ frame: (f) => (got.push(f), rnd(3) === 0 && decoder.pause()), oversize: (h) => oversized.push(h.streamId) }, 200);
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + rnd(40);
        decoder.push(bytes.subarray(at, at + n));
        at += n;
        if (rnd(2)) decoder.resume();
      }
      while (decoder.bufferedBytes > 0 && got.length + oversized.length < payloads.length) decoder.resume();
      const fitting = payloads.map((p, i) => ({ p, id: 2 * i + 1 })).filter(({ p }) => p.length <= 200);
      expect(got.map((f) => [f.streamId, f.payload.toString('hex')])).toEqual(fitting.map(({ p, id }) => [id, p.toString('hex')]));
      expect(oversized).toHaveLength(payloads.length - fitting.length);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });
});

describe('request envelope', () => {
  it('gives a request without metadata an empty map nobody can fill, and one with metadata its own', () => {
    const bare = decodeRequest(encodeRequest({ service: 's', method: 'm', payload: new Uint8Array() }));
    expect(bare.metadata.size).toBe(0);
    expect(() => bare.metadata.set('k', ['v'])).toThrow(TypeError);
    const md = new Map([['k', ['v1', 'v2']]]);
    const withMd = decodeRequest(encodeRequest({ service: 's', method: 'm', payload: new Uint8Array(), metadata: md }));
    expect([...withMd.metadata]).toEqual([['k', ['v1', 'v2']]]);
    withMd.metadata.set('other', ['x']);
    expect(decodeRequest(encodeRequest({ service: 's', method: 'm', payload: new Uint8Array() })).metadata.size).toBe(0);
  });

  it('decodes service and method names right when they change from call to call', () => {
    const names = ['grpc.Health', 'grpc.AgentService', 'grpc.Health', 'grpc.Healti', 'x', '', 'grpc.Health', 'サービス'];
    for (const [i, service] of names.entries()) {
      const method = names[(i + 3) % names.length]!;
      const req = decodeRequest(encodeRequest({ service, method, payload: Buffer.from([i]) }));
      expect([req.service, req.method, [...req.payload]]).toEqual([service, method, [i]]);
    }
  });
});
