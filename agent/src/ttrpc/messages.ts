// ttRPC's envelope messages: Request and Response (with google.rpc.Status).
import { ProtoReader, ProtoWriter, TextCache } from './wire';

export type Metadata = Map<string, string[]>;

/** The metadata of a request that has none: one shared map, which nobody may change. */
class NoMetadata extends Map<string, string[]> {
  override set(): this {
    throw new TypeError('the metadata of a request without metadata cannot be changed');
  }
  override delete(): boolean {
    return false;
  }
  override clear(): void {}
}
const NO_METADATA: Metadata = new NoMetadata();
const serviceNames = new TextCache();
const methodNames = new TextCache();

export interface RequestMessage {
  service: string;
  method: string;
  payload: Buffer;
  timeoutNano: bigint; // 0 = none
  metadata: Metadata;
}

export interface StatusMessage {
  code: number;
  message: string;
}

export interface ResponseMessage {
  status?: StatusMessage;
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);

export function encodeRequest(req: {
  service: string;
  method: string;
  payload: Uint8Array;
  timeoutNano?: bigint;
  metadata?: Metadata;
}): Buffer {
  const w = new ProtoWriter(32 + req.payload.length).bytes(1, req.service).bytes(2, req.method);
  if (req.payload.length > 0) w.bytes(3, req.payload);
  if (req.timeoutNano && req.timeoutNano > 0n) w.varint(4, req.timeoutNano);
  for (const [key, values] of req.metadata ?? []) {
    for (const value of values) w.bytes(5, new ProtoWriter().bytes(1, key).bytes(2, value).finish());
  }
  return w.finish();
}

export function decodeRequest(buf: Buffer): RequestMessage {
  const req: RequestMessage = { service: '', method: '', payload: EMPTY, timeoutNano: 0n, metadata: NO_METADATA };
  const r = new ProtoReader(buf);
  while (r.next()) {
    switch (r.field) {
      case 1:
        r.expect(2, 'service');
        req.service = r.string(serviceNames);
        break;
      case 2:
        r.expect(2, 'method');
        req.method = r.string(methodNames);
        break;
      case 3:
        r.expect(2, 'payload');
        req.payload = r.bytes();
        break;
      case 4:
        r.expect(0, 'timeout_nano');
        req.timeoutNano = BigInt.asIntN(64, r.varint64());
        break;
      case 5: {
        r.expect(2, 'metadata');
        const kv = new ProtoReader(r.bytes());
        let key = '';
        let value = '';
        while (kv.next()) {
          if (kv.field === 1 && kv.wireType === 2) key = kv.string();
          else if (kv.field === 2 && kv.wireType === 2) value = kv.string();
          else kv.skip();
        }
        if (req.metadata === NO_METADATA) req.metadata = new Map();
        const list = req.metadata.get(key);
        if (list) list.push(value);
        else req.metadata.set(key, [value]);
        break;
      }
      default:
        r.skip();
    }
  }
  return req;
}

export function encodeResponse(res: { status?: StatusMessage; payload?: Uint8Array }): Buffer {
  const w = new ProtoWriter(16 + (res.payload?.length ?? 0) + (res.status?.message.length ?? 0) * 3);
  if (res.status && res.status.code !== 0) {
    const s = new ProtoWriter().varint(1, res.status.code);
    if (res.status.message) s.bytes(2, res.status.message);
    w.bytes(1, s.finish());
  }
  if (res.payload && res.payload.length > 0) w.bytes(2, res.payload);
  return w.finish();
}

// Small answers are most calls: their prefixes are made once (callers only read them).
const smallPrefixes: Buffer[] = [];

/**
 * The bytes that come before `payloadLength` bytes of payload in a successful Response (its
 * field 2 tag and length), so that a large payload is written as it is instead of copied.
 */
export function responsePayloadPrefix(payloadLength: number): Buffer {
  if (payloadLength < 128) return (smallPrefixes[payloadLength] ??= Buffer.from([0x12, payloadLength]));
  const prefix = [0x12];
  let n = payloadLength;
  while (n > 0x7f) {
    prefix.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  prefix.push(n);
  return Buffer.from(prefix);
}

export function decodeResponse(buf: Buffer): ResponseMessage {
  const res: ResponseMessage = { payload: EMPTY };
  const r = new ProtoReader(buf);
  while (r.next()) {
    if (r.field === 1 && r.wireType === 2) {
      const status: StatusMessage = { code: 0, message: '' };
      const s = new ProtoReader(r.bytes());
      while (s.next()) {
        if (s.field === 1 && s.wireType === 0) status.code = s.uint32() | 0;
        else if (s.field === 2 && s.wireType === 2) status.message = s.bytes().toString('utf8');
        else s.skip();
      }
      res.status = status;
    } else if (r.field === 2 && r.wireType === 2) res.payload = r.bytes();
    else r.skip();
  }
  return res;
}

export function metadataFrom(record?: Record<string, string | string[]>): Metadata {
  const md: Metadata = new Map();
  for (const [k, v] of Object.entries(record ?? {})) md.set(k, Array.isArray(v) ? v : [v]);
  return md;
}
