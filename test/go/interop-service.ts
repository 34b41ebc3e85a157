// Our TypeScript twin of the Go peer's interop service (see interop.proto), registered on OUR
// TtrpcServer, plus the message codec both the interop test and the benchmark use to talk to
// the Go peer. The codec is hand-written here on purpose, independent of agent/src/ttrpc.
import { type CallContext, type Code, RpcError, type TtrpcServer } from '../../agent/src/ttrpc';

export const INTEROP_SERVICE = 'ttrpc.interop.v1.Echo';

// ---- protobuf wire helpers (varint and length-delimited fields only) ----

function varint(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function varintField(field: number, value: number | bigint): Buffer {
  if (value === 0 || value === 0n) return Buffer.alloc(0); // proto3 default: not on the wire
  return Buffer.from([...varint(BigInt(field << 3)), ...varint(BigInt(value))]);
}

function bytesField(field: number, data: Uint8Array | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (body.length === 0) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from([...varint(BigInt((field << 3) | 2)), ...varint(BigInt(body.length))]), body]);
}

interface Field {
  field: number;
  varint?: bigint;
  bytes?: Buffer;
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
  }
  throw new Error('varint too long');
}

export function decodeFields(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    pos = afterTag;
    const field = Number(tag >> 3n);
    switch (Number(tag & 7n)) {
      case 0: {
        const [v, next] = readVarint(buf, pos);
        fields.push({ field, varint: v });
        pos = next;
        break;
      }
      case 2: {
        const [len, start] = readVarint(buf, pos);
        const end = start + Number(len);
        if (end > buf.length) throw new Error(`field ${field}: length ${len} runs past the message end`);
        fields.push({ field, bytes: buf.subarray(start, end) });
        pos = end;
        break;
      }
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      default:
        throw new Error(`field ${field}: unsupported wire type ${Number(tag & 7n)}`);
    }
  }
  return fields;
}

const EMPTY = Buffer.alloc(0);
const bytesOf = (fields: Field[], n: number): Buffer => fields.findLast((f) => f.field === n)?.bytes ?? EMPTY;
const numberOf = (fields: Field[], n: number): number => Number(BigInt.asIntN(64, fields.findLast((f) => f.field === n)?.varint ?? 0n));

// ---- the interop messages ----

export const encodeEchoRequest = (data: Uint8Array, delayMs = 0): Buffer =>
  Buffer.concat([bytesField(1, data), varintField(2, delayMs)]);
export function decodeEchoRequest(buf: Buffer): { data: Buffer; delayMs: number } {
  const f = decodeFields(buf);
  return { data: bytesOf(f, 1), delayMs: numberOf(f, 2) };
}

export const encodeBlob = (data: Uint8Array): Buffer => bytesField(1, data);
export const decodeBlob = (buf: Buffer): Buffer => bytesOf(decodeFields(buf), 1);

export const encodeFailRequest = (code: number, message: string): Buffer =>
  Buffer.concat([varintField(1, code), bytesField(2, message)]);

export const encodeSleepRequest = (ms: number): Buffer => varintField(1, ms);
export function decodeSleepReply(buf: Buffer): { hadDeadline: boolean; remainingMs: number } {
  const f = decodeFields(buf);
  return { hadDeadline: numberOf(f, 1) !== 0, remainingMs: numberOf(f, 2) };
}

export const encodeBigRequest = (size: number): Buffer => varintField(1, size);

export function decodeMetadataReply(buf: Buffer): Array<[string, string]> {
  return decodeFields(buf)
    .filter((f) => f.field === 1 && f.bytes)
    .map((f) => {
      const kv = decodeFields(f.bytes!);
      return [bytesOf(kv, 1).toString('utf8'), bytesOf(kv, 2).toString('utf8')];
    });
}

/** The same byte pattern as the Go peer's pattern(n). */
export function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

// ---- the service, served by our TtrpcServer ----

// Resolves after ms, or rejects with the call's abort reason (its deadline or a disconnect).
function waitOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function registerInteropService(server: TtrpcServer): void {
  server.register(INTEROP_SERVICE, 'Echo', async (request: Uint8Array, ctx: CallContext) => {
    const { data, delayMs } = decodeEchoRequest(Buffer.from(request.buffer, request.byteOffset, request.byteLength));
    if (delayMs > 0) await waitOrAbort(delayMs, ctx.signal);
    return encodeBlob(data);
  });
  server.register(INTEROP_SERVICE, 'Fail', (request: Uint8Array) => {
    const f = decodeFields(Buffer.from(request.buffer, request.byteOffset, request.byteLength));
    throw new RpcError(numberOf(f, 1) as Code, bytesOf(f, 2).toString('utf8'));
  });
  server.register(INTEROP_SERVICE, 'Sleep', async (request: Uint8Array, ctx: CallContext) => {
    const ms = numberOf(decodeFields(Buffer.from(request.buffer, request.byteOffset, request.byteLength)), 1);
    const reply = Buffer.concat([
      varintField(1, ctx.deadline !== undefined ? 1 : 0),
      varintField(2, ctx.deadline !== undefined ? BigInt(ctx.deadline - Date.now()) : 0n),
    ]);
    if (ms > 0) await waitOrAbort(ms, ctx.signal);
    return reply;
  });
  server.register(INTEROP_SERVICE, 'Big', (request: Uint8Array) => {
    const size = numberOf(decodeFields(Buffer.from(request.buffer, request.byteOffset, request.byteLength)), 1);
    return encodeBlob(pattern(size));
  });
  server.register(INTEROP_SERVICE, 'Metadata', (_request: Uint8Array, ctx: CallContext) => {
    const entries = [...ctx.metadata.keys()]
      .sort()
      .flatMap((key) => (ctx.metadata.get(key) ?? []).map((value) => bytesField(1, Buffer.concat([bytesField(1, key), bytesField(2, value)]))));
    return Buffer.concat(entries);
  });
}
