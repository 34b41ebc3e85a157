// Interop with a ttRPC implementation we did not write: containerd's Go ttRPC 1.1 from Debian.
// Both directions: the Go client against our TtrpcServer, our TtrpcClient against the Go server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, TtrpcClient, TtrpcServer } from '../../agent/src/ttrpc';
import { dial } from '../../agent/src/transport/dial';
import { rpcRejection } from '../helpers/rpc-rejection';
import {
  decodeBlob,
  decodeMetadataReply,
  decodeSleepReply,
  encodeBigRequest,
  encodeBlob,
  encodeEchoRequest,
  encodeFailRequest,
  encodeSleepRequest,
  INTEROP_SERVICE,
  pattern,
  registerInteropService,
} from '../go/interop-service';
import { buildGoPeer, type GoServer, goPeerUnavailableReason, runGoPeer, startGoServer } from '../go/peer';
import { skipUnlessAvailable } from '../helpers/requirement';

const MiB = 1 << 20;
const unavailable = goPeerUnavailableReason();
// Outside CI a missing Go toolchain skips both suites (and says why); in CI it fails the file.
const skipGo = skipUnlessAvailable(unavailable);

interface Outcome {
  kind: 'status' | 'local';
  code: number;
  message: string;
}
interface EchoOutcome extends Outcome {
  sent: number;
  received: number;
  equal: boolean;
}
const ok = { kind: 'status', code: Code.OK };
const echoedOk = (sent: number) => ({ kind: 'status', code: Code.OK, sent, received: sent, equal: true });

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ttrpc-interop-'));
  if (!unavailable) await buildGoPeer();
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skipGo)('Go ttRPC client -> our server', () => {
  let server: TtrpcServer;
  let socketPath: string;
  const scenario = <T>(name: string) => runGoPeer<T>(['client', '--socket', socketPath, '--scenario', name]);

  beforeAll(async () => {
    socketPath = join(dir, 'ours.sock');
    server = new TtrpcServer();
    registerInteropService(server);
    await server.listen(`unix://${socketPath}`);
  });
  afterAll(() => server.close());

  it('echoes payloads from 0 bytes to 1 MiB byte for byte', async () => {
    const r = await scenario<{ results: EchoOutcome[] }>('echo');
    expect(r.results).toMatchObject([echoedOk(11), echoedOk(0), echoedOk(64 << 10), echoedOk(MiB)]);
  });

  it('answers 1000 concurrent calls on one connection, out of order, each with its own reply', async () => {
    const r = await scenario<{ calls: number; failed: number; wrongReplies: number; outOfOrder: number; firstFailure: string | null }>('concurrent');
    expect(r).toMatchObject({ calls: 1000, failed: 0, wrongReplies: 0, firstFailure: null });
    expect(r.outOfOrder).toBeGreaterThan(0);
    expect(server.activeCalls).toBe(0);
  });

  it('delivers every gRPC status code with its message', async () => {
    const r = await scenario<{ results: Outcome[] }>('errors');
    expect(r.results).toEqual(
      Array.from({ length: 16 }, (_, i) => ({ kind: 'status', code: i + 1, message: `failure ${i + 1}: ünïcode ✓` })),
    );
  });

  it('answers an over-4-MiB request with RESOURCE_EXHAUSTED and keeps the connection', async () => {
    const r = await scenario<{ over: EchoOutcome; near: EchoOutcome; after: EchoOutcome }>('oversize');
    expect(r.over).toMatchObject({ kind: 'status', code: Code.RESOURCE_EXHAUSTED, received: 0 });
    expect(r.near).toMatchObject(echoedOk(4 * MiB - 1024));
    expect(r.after).toMatchObject(echoedOk('after-oversize'.length));
  });

  it('refuses to send an over-4-MiB reply (RESOURCE_EXHAUSTED) instead of crashing the Go client', async () => {
    const r = await scenario<{ small: Outcome; smallLen: number; smallEqual: boolean; over: Outcome; after: EchoOutcome }>('big-reply');
    expect(r).toMatchObject({ small: ok, smallLen: MiB, smallEqual: true });
    expect(r.over).toMatchObject({ kind: 'status', code: Code.RESOURCE_EXHAUSTED });
    expect(r.after).toMatchObject(echoedOk('after-big-reply'.length));
  });

  it('honours timeout_nano: DEADLINE_EXCEEDED from the server, the handler sees the deadline', async () => {
    const r = await scenario<{
      wire: Outcome; wireMs: number; context: Outcome; contextMs: number;
      seen: Outcome; seenHadDeadline: boolean; seenRemainingMs: number; after: EchoOutcome;
    }>('deadline');
    // Only timeout_nano (200 ms) was set, so only our server could end this 3 s call early.
    expect(r.wire).toMatchObject({ kind: 'status', code: Code.DEADLINE_EXCEEDED });
    expect(r.wireMs).toBeGreaterThanOrEqual(190);
    expect(r.wireMs).toBeLessThan(2000);
    // With a Go context deadline, either our answer or the Go client's own timer ends it.
    if (r.context.kind === 'status') expect(r.context.code).toBe(Code.DEADLINE_EXCEEDED);
    else expect(r.context.message).toBe('context deadline exceeded');
    expect(r.contextMs).toBeLessThan(2000);
    expect(r.seen).toMatchObject(ok);
    expect(r.seenHadDeadline).toBe(true);
    expect(r.seenRemainingMs).toBeGreaterThan(4000);
    expect(r.seenRemainingMs).toBeLessThanOrEqual(5000);
    expect(r.after).toMatchObject(echoedOk('after-deadline'.length));
    expect(server.activeCalls).toBe(0);
  });

  it('passes request metadata to the handler', async () => {
    const r = await scenario<{ outcome: Outcome; entries: Array<[string, string]> }>('metadata');
    expect(r.outcome).toMatchObject(ok);
    expect(r.entries).toEqual([['x-interop-key', 'one'], ['x-interop-key', 'two'], ['x-other', 'v']]);
  });

  it('answers an unknown service or method with UNIMPLEMENTED naming it', async () => {
    const r = await scenario<{ service: Outcome; method: Outcome; after: EchoOutcome }>('unknown');
    expect(r.service).toMatchObject({ kind: 'status', code: Code.UNIMPLEMENTED });
    expect(r.service.message).toContain('ttrpc.interop.v1.Missing');
    expect(r.method).toMatchObject({ kind: 'status', code: Code.UNIMPLEMENTED });
    expect(r.method.message).toContain('Missing');
    expect(r.after).toMatchObject(echoedOk('after-unknown'.length));
  });
});

describe.skipIf(skipGo)('our ttRPC client -> Go server', () => {
  let go: GoServer;
  let client: TtrpcClient;
  const call = (method: string, payload: Uint8Array, opts?: Parameters<TtrpcClient['call']>[3]) =>
    client.call(INTEROP_SERVICE, method, payload, opts);
  const echo = async (data: Uint8Array) => decodeBlob(await call('Echo', encodeEchoRequest(data)));

  beforeAll(async () => {
    go = await startGoServer(join(dir, 'go.sock'));
    client = await TtrpcClient.connect(`unix://${go.socketPath}`);
  });
  afterAll(async () => {
    client?.close();
    await go?.stop();
  });

  it('echoes payloads from 0 bytes to 1 MiB byte for byte', async () => {
    for (const data of [Buffer.from('hello ttrpc'), Buffer.alloc(0), pattern(64 << 10), pattern(MiB)]) {
      expect((await echo(data)).equals(data)).toBe(true);
    }
  });

  it('keeps 1000 concurrent calls on one connection apart, with replies out of order', async () => {
    const completed: number[] = [];
    const replies = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const reply = decodeBlob(await call('Echo', encodeEchoRequest(Buffer.from(`call-${i}`), 30 - (i % 31))));
        completed.push(i);
        return reply.toString();
      }),
    );
    expect(replies).toEqual(Array.from({ length: 1000 }, (_, i) => `call-${i}`));
    expect(completed).not.toEqual([...completed].sort((a, b) => a - b));
    expect(client.inFlight).toBe(0);
  });

  it('surfaces every gRPC status code and message from the Go server', async () => {
    for (let code = 1; code <= 16; code++) {
      const err = await rpcRejection(call('Fail', encodeFailRequest(code, `failure ${code}: ünïcode ✓`)));
      expect({ code: err.code, message: err.message }).toEqual({ code, message: `failure ${code}: ünïcode ✓` });
    }
  });

  it('refuses an over-4-MiB request itself, and the connection goes on', async () => {
    const err = await rpcRejection(call('Echo', encodeEchoRequest(pattern(4 * MiB + 1))));
    expect(err.code).toBe(Code.RESOURCE_EXHAUSTED);
    const near = pattern(4 * MiB - 1024);
    expect((await echo(near)).equals(near)).toBe(true);
    expect((await echo(Buffer.from('after'))).toString()).toBe('after');
  });

  it('gets RESOURCE_EXHAUSTED from the Go server for an over-4-MiB request frame it was made to send', async () => {
    // A client with a raised limit puts the oversized frame on the wire; Go discards it.
    const loose = new TtrpcClient(await dial(`unix://${go.socketPath}`), 8 * MiB);
    try {
      const err = await rpcRejection(loose.call(INTEROP_SERVICE, 'Echo', encodeEchoRequest(pattern(4 * MiB + 1))));
      expect(err.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(err.message).toContain('exceed maximum message size of 4194304');
      expect(decodeBlob(await loose.call(INTEROP_SERVICE, 'Echo', encodeEchoRequest(Buffer.from('next')))).toString()).toBe('next');
    } finally {
      loose.close();
    }
  });

  it('turns an over-4-MiB reply from the Go server into RESOURCE_EXHAUSTED for that call only', async () => {
    expect(decodeBlob(await call('Big', encodeBigRequest(MiB))).equals(pattern(MiB))).toBe(true);
    const err = await rpcRejection(call('Big', encodeBigRequest(4 * MiB + 16)));
    expect(err.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect((await echo(Buffer.from('after-big'))).toString()).toBe('after-big');
    expect(client.closed).toBe(false);
  });

  it('sends timeout_nano the Go server honours, and fails a late call with DEADLINE_EXCEEDED', async () => {
    const seen = decodeSleepReply(await call('Sleep', encodeSleepRequest(0), { timeoutMs: 5000 }));
    expect(seen.hadDeadline).toBe(true);
    expect(seen.remainingMs).toBeGreaterThan(4000);
    expect(seen.remainingMs).toBeLessThanOrEqual(5000);
    expect(decodeSleepReply(await call('Sleep', encodeSleepRequest(0))).hadDeadline).toBe(false);

    const start = Date.now();
    const err = await rpcRejection(call('Sleep', encodeSleepRequest(3000), { timeoutMs: 200 }));
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(Date.now() - start).toBeLessThan(2000);
    expect((await echo(Buffer.from('after-deadline'))).toString()).toBe('after-deadline');
  });

  it('delivers metadata to the Go handler', async () => {
    const reply = await call('Metadata', encodeBlob(Buffer.alloc(0)), { metadata: { 'x-interop-key': ['one', 'two'], 'x-other': 'v' } });
    expect(decodeMetadataReply(reply)).toEqual([['x-interop-key', 'one'], ['x-interop-key', 'two'], ['x-other', 'v']]);
  });

  it('gets UNIMPLEMENTED for an unknown service or method', async () => {
    const service = await rpcRejection(client.call('ttrpc.interop.v1.Missing', 'Echo', encodeEchoRequest(Buffer.from('x'))));
    expect({ code: service.code, message: service.message }).toEqual({ code: Code.UNIMPLEMENTED, message: 'service ttrpc.interop.v1.Missing' });
    const method = await rpcRejection(call('Missing', encodeEchoRequest(Buffer.from('x'))));
    expect({ code: method.code, message: method.message }).toEqual({ code: Code.UNIMPLEMENTED, message: 'method Missing' });
  });
});
