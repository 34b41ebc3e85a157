// Runs network calls inside the network namespace it was started in (`ip netns exec NS node
// <bundle of this file> <calls.json>`) and prints one JSON line with the results. Each call goes
// through the schema exactly as on the wire: request decoded from protobuf bytes (or proto-JSON),
// the AgentService handler, the response encoded and decoded back. `raw` calls print the
// datagrams the kernel sent for a dump, for the codec tests to parse.
import { readFileSync } from 'node:fs';
import { Logger } from '../../agent/src/log/logger';
import { NETLINK_ROUTE, NetlinkSocket } from '../../agent/src/native/netlink';
import { RtnetlinkClient } from '../../agent/src/network/netlink/client';
import { AF_INET, AF_INET6 } from '../../agent/src/network/netlink/constants';
import { listAddresses, listLinks, listRoutes } from '../../agent/src/network/netlink/operations';
import { GuestNetwork } from '../../agent/src/network/network';
import { decodeMessage, encodeMessage, findMethod, messageFromJson } from '../../agent/src/proto/schema';
import { networkServiceHandlers } from '../../agent/src/service/network-service';
import type { TypedHandler } from '../../agent/src/service/typed';
import type { CallContext } from '../../agent/src/ttrpc/registry';
import { RpcError } from '../../agent/src/ttrpc/status';

export type RunnerCall =
  | { method: string; json?: unknown; bin?: string }
  | { raw: 'links' | 'addresses' | 'routes4' | 'routes6' }
  /** GuestNetwork calls that are not RPCs (CreateSandbox uses them). */
  | { local: 'bringLoopbackUp' };

/** Each result also says how long the call took inside the runner (`ms`). */
export type RunnerResult = ({ ok: unknown } | { error: { code: number; message: string } } | { datagrams: string[] }) & { ms?: number };

async function rawDump(kind: string): Promise<string[]> {
  const datagrams: string[] = [];
  const client = new RtnetlinkClient({
    socket: (onDatagram, onError) =>
      new NetlinkSocket(
        NETLINK_ROUTE,
        (d) => {
          datagrams.push(d.toString('hex'));
          onDatagram(d);
        },
        onError,
      ),
  });
  try {
    if (kind === 'links') await listLinks(client);
    else if (kind === 'addresses') await listAddresses(client);
    else await listRoutes(client, kind === 'routes6' ? AF_INET6 : AF_INET);
  } finally {
    client.close();
  }
  return datagrams;
}

async function main(): Promise<void> {
  const calls = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as RunnerCall[];
  // Log lines go to stderr: tests wait on them (e.g. "waiting for a hot-plugged interface").
  const hotplugTimeoutMs = Number(process.env.NET_HOTPLUG_TIMEOUT_MS ?? 3000);
  const log = Logger.create('info');
  const network = new GuestNetwork({ log, hotplugTimeoutMs });
  // Called by name, as the registry does.
  const handlers: Record<string, TypedHandler> = networkServiceHandlers({ log, network });
  const ctx = { signal: new AbortController().signal, metadata: {} } as unknown as CallContext;
  const results: RunnerResult[] = [];
  for (const call of calls) {
    if ('raw' in call) {
      results.push({ datagrams: await rawDump(call.raw) });
      continue;
    }
    if ('local' in call) {
      await network.bringLoopbackUp();
      results.push({ ok: {} });
      continue;
    }
    const info = findMethod('grpc.AgentService', call.method);
    if (!info) throw new Error(`no method ${call.method}`);
    const request = call.bin !== undefined ? decodeMessage(info.requestType, Buffer.from(call.bin, 'base64')) : messageFromJson(info.requestType, call.json ?? {});
    const started = performance.now();
    try {
      const response = await handlers[call.method]!(request, ctx);
      const ms = performance.now() - started;
      results.push({ ok: decodeMessage(info.responseType, encodeMessage(info.responseType, response)), ms });
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      results.push({ error: { code: err.code, message: err.message }, ms: performance.now() - started });
    }
  }
  const text = JSON.stringify({ results }, (_k, v: unknown) =>
    v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('utf8') : v,
  );
  process.stdout.write(text + '\n');
  // Nothing may keep the process alive: an idle netlink socket must not.
}

main().catch((err: unknown) => {
  process.stdout.write(JSON.stringify({ fatal: err instanceof Error ? err.stack : String(err) }) + '\n');
  process.exitCode = 1;
});
