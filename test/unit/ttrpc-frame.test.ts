import { describe, expect, it } from 'vitest';
import { encodeFrame, type Frame, FrameDecoder, type FrameHeader, FrameType, HEADER_BYTES } from '../../agent/src/ttrpc/frame';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, responsePayloadPrefix } from '../../agent/src/ttrpc/messages';

function collect(max?: number) {
  const frames: Frame[] = [];
  const oversize: FrameHeader[] = [];
  const decoder = new FrameDecoder({ frame: (f) => frames.push(f), oversize: (h) => oversize.push(h) }, max);
  return { frames, oversize, decoder };
}

describe('frame header', () => {
  it('is 10 bytes: length and stream id big-endian, then type and flags', () => {
    const f = encodeFrame(0x01020305, FrameType.Data, 0x5, Buffer.from('abc'));
    expect(f.length).toBe(HEADER_BYTES + 3);
    expect([...f.subarray(0, 10)]).toEqual([0, 0, 0, 3, 1, 2, 3, 5, 3, 5]);
    expect(f.subarray(10).toString()).toBe('abc');
  });
});

describe('FrameDecoder', () => {
  it('delivers no frame while paused (the rest stays buffered) and goes on where it stopped on resume', () => {
    const frames: number[] = [];
    const decoder: FrameDecoder = new FrameDecoder({
      frame: (f) => {
        frames.push(f.streamId);
        if (f.streamId === 1) decoder.pause(); // the receiver is full after the first
        if (f.streamId === 3) decoder.resume(); // resuming inside a delivery continues the same loop
      },
      oversize: () => undefined,
    });
    const chunk = Buffer.concat([1, 3, 5, 7].map((id) => encodeFrame(id, FrameType.Request, 0, Buffer.from('x'))));
    decoder.push(chunk);
    expect(frames).toEqual([1]);
    expect(decoder.bufferedBytes).toBe(chunk.length - 11);
    decoder.push(encodeFrame(9, FrameType.Request, 0, Buffer.alloc(0)));
    expect(frames).toEqual([1]);
    decoder.resume();
    expect(frames).toEqual([1, 3, 5, 7, 9]);
    decoder.pause();
    decoder.push(encodeFrame(11, FrameType.Request, 0, Buffer.alloc(0)));
    decoder.clear();
    decoder.resume();
    expect(frames).toEqual([1, 3, 5, 7, 9]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('reassembles frames split at every byte and joined in one chunk', () => {
    const a = encodeFrame(1, FrameType.Request, 0, Buffer.from('hello'));
    const b = encodeFrame(3, FrameType.Request, 0, Buffer.alloc(0));
    const all = Buffer.concat([a, b, a]);
    const byByte = collect();
    for (const byte of all) byByte.decoder.push(Buffer.from([byte]));
    const whole = collect();
    whole.decoder.push(all);
    for (const c of [byByte, whole]) {
      expect(c.frames.map((f) => [f.streamId, f.payload.toString()])).toEqual([[1, 'hello'], [3, ''], [1, 'hello']]);
      expect(c.decoder.bufferedBytes).toBe(0);
    }
  });

  it('skips an oversized payload without buffering it and goes on with the next frame', () => {
    const c = collect(16);
    const big = encodeFrame(5, FrameType.Request, 0, Buffer.alloc(1000, 7));
    const next = encodeFrame(7, FrameType.Request, 0, Buffer.from('ok'));
    c.decoder.push(big.subarray(0, 20));
    expect(c.oversize).toEqual([{ length: 1000, streamId: 5, type: 1, flags: 0 }]);
    expect(c.decoder.bufferedBytes).toBe(0);
    c.decoder.push(Buffer.concat([big.subarray(20), next]));
    expect(c.frames.map((f) => f.streamId)).toEqual([7]);
  });
});

describe('envelope messages', () => {
  it('round-trips a request with metadata and a timeout', () => {
    const md = new Map([['k', ['v1', 'v2']]]);
    const buf = encodeRequest({ service: 'grpc.Health', method: 'Check', payload: Buffer.from([1, 2]), timeoutNano: 5_000_000_000n, metadata: md });
    const req = decodeRequest(buf);
    expect(req).toEqual({ service: 'grpc.Health', method: 'Check', payload: Buffer.from([1, 2]), timeoutNano: 5_000_000_000n, metadata: md });
  });

  it('encodes a request field for field as protobuf (service=1, method=2, payload=3, timeout_nano=4)', () => {
    const buf = encodeRequest({ service: 's', method: 'm', payload: Buffer.from('p'), timeoutNano: 1n });
    expect([...buf]).toEqual([0x0a, 1, 0x73, 0x12, 1, 0x6d, 0x1a, 1, 0x70, 0x20, 1]);
  });

  it('round-trips a response status and omits it on success', () => {
    expect(encodeResponse({ payload: Buffer.from('x') })).toEqual(Buffer.from([0x12, 1, 0x78]));
    const err = decodeResponse(encodeResponse({ status: { code: 5, message: 'no such container' } }));
    expect(err.status).toEqual({ code: 5, message: 'no such container' });
  });

  it('rejects truncated protobuf', () => {
    expect(() => decodeRequest(Buffer.from([0x0a, 10, 1]))).toThrow(/past the end/);
    expect(() => decodeRequest(Buffer.from([0x20, 0x80]))).toThrow(/truncated varint/);
  });

  it('a response written as prefix + payload is the same bytes as the encoded response', () => {
    for (const n of [1, 127, 128, 16_383, 16_384, 4 << 20]) {
      const payload = Buffer.alloc(n, 9);
      expect(Buffer.concat([responsePayloadPrefix(n), payload]).equals(encodeResponse({ payload }))).toBe(true);
    }
  });
});
