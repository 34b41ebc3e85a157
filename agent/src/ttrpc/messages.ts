// ttRPC's envelope messages: Request and Response (with google.rpc.Status).
import { ProtoWriter, readFields, WireFormatError } from './wire';

export type Metadata = Map<string, string[]>;

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
  const w = new ProtoWriter().bytes(1, req.service).bytes(2, req.method);
  if (req.payload.length > 0) w.bytes(3, req.payload);
  if (req.timeoutNano && req.timeoutNano > 0n) w.varint(4, req.timeoutNano);
  for (const [key, values] of req.metadata ?? []) {
    for (const value of values) w.bytes(5, new ProtoWriter().bytes(1, key).bytes(2, value).finish());
  }
  return w.finish();
}

export function decodeRequest(buf: Buffer): RequestMessage {
  const req: RequestMessage = { service: '', method: '', payload: EMPTY, timeoutNano: 0n, metadata: new Map() };
  for (const f of readFields(buf)) {
    if (f.field === 1 && f.bytes) req.service = f.bytes.toString('utf8');
    else if (f.field === 2 && f.bytes) req.method = f.bytes.toString('utf8');
    else if (f.field === 3 && f.bytes) req.payload = f.bytes;
    else if (f.field === 4 && f.varint !== undefined) req.timeoutNano = BigInt.asIntN(64, f.varint);
    else if (f.field === 5 && f.bytes) {
      let key = '';
      let value = '';
      for (const kv of readFields(f.bytes)) {
        if (kv.field === 1 && kv.bytes) key = kv.bytes.toString('utf8');
        else if (kv.field === 2 && kv.bytes) value = kv.bytes.toString('utf8');
      }
      const list = req.metadata.get(key);
      if (list) list.push(value);
      else req.metadata.set(key, [value]);
    } else if (f.field <= 5) throw new WireFormatError(`request field ${f.field} has the wrong wire type`);
  }
  return req;
}

export function encodeResponse(res: { status?: StatusMessage; payload?: Uint8Array }): Buffer {
  const w = new ProtoWriter();
  if (res.status && res.status.code !== 0) {
    const s = new ProtoWriter().varint(1, res.status.code);
    if (res.status.message) s.bytes(2, res.status.message);
    w.bytes(1, s.finish());
  }
  if (res.payload && res.payload.length > 0) w.bytes(2, res.payload);
  return w.finish();
}

export function decodeResponse(buf: Buffer): ResponseMessage {
  const res: ResponseMessage = { payload: EMPTY };
  for (const f of readFields(buf)) {
    if (f.field === 1 && f.bytes) {
      const status: StatusMessage = { code: 0, message: '' };
      for (const s of readFields(f.bytes)) {
        if (s.field === 1 && s.varint !== undefined) status.code = Number(BigInt.asIntN(32, s.varint));
        else if (s.field === 2 && s.bytes) status.message = s.bytes.toString('utf8');
      }
      res.status = status;
    } else if (f.field === 2 && f.bytes) res.payload = f.bytes;
  }
  return res;
}

export function metadataFrom(record?: Record<string, string | string[]>): Metadata {
  const md: Metadata = new Map();
  for (const [k, v] of Object.entries(record ?? {})) md.set(k, Array.isArray(v) ? v : [v]);
  return md;
}
