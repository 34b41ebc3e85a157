// Host-side typed client of the agent: JSON-shaped requests in, JSON-shaped replies out.
import {
  AGENT_SERVICE,
  decodeMessage,
  encodeMessage,
  findMethod,
  type MethodInfo,
  messageFromJson,
  messageToJson,
} from '../src/proto/schema';
import { TtrpcClient, type CallOptions } from '../src/ttrpc/client';
import { Code, RpcError } from '../src/ttrpc/status';

export type Message = Record<string, unknown>;

export type OutputStreamName = 'stdout' | 'stderr';

/**
 * True when a ReadStdout/ReadStderr failure is the end of the output. Our agent (and Kata's up
 * to 3.26) ends a stream with an error status, OUT_OF_RANGE here; Kata's agent from 3.27 on
 * answers an empty reply instead, which readOutput handles.
 */
export function isEndOfOutput(err: unknown): boolean {
  return err instanceof RpcError && err.code === Code.OUT_OF_RANGE;
}

/** "CreateContainer" (AgentService), "Health/Check" or "grpc.Health/Check". */
export function resolveMethod(name: string): MethodInfo {
  const slash = name.lastIndexOf('/');
  let service = AGENT_SERVICE;
  let method = name;
  if (slash >= 0) {
    service = name.slice(0, slash);
    method = name.slice(slash + 1);
    if (!service.includes('.')) service = `grpc.${service}`;
  }
  const info = findMethod(service, method);
  if (!info) throw new RpcError(Code.UNIMPLEMENTED, `unknown method "${name}" (no ${service}/${method} in the schema)`);
  return info;
}

export class AgentClient {
  constructor(readonly ttrpc: TtrpcClient) {}

  static async connect(address: string, opts: { timeoutMs?: number } = {}): Promise<AgentClient> {
    return new AgentClient(await TtrpcClient.connect(address, opts));
  }

  /** Calls a method with a request object in handler shape (proto field names). */
  async request<T extends object = Message>(method: string, req: object = {}, opts?: CallOptions): Promise<T> {
    const info = resolveMethod(method);
    const payload = encodeMessage(info.requestType, req);
    const reply = await this.ttrpc.call(info.service, info.method, payload, opts);
    return decodeMessage<T>(info.responseType, reply);
  }

  /** Same, with proto-JSON in and out (what the CLI prints and reads). */
  async requestJson(method: string, json: unknown, opts?: CallOptions): Promise<Message> {
    const info = resolveMethod(method);
    const req = messageFromJson(info.requestType, json);
    const reply = await this.ttrpc.call(info.service, info.method, encodeMessage(info.requestType, req), opts);
    return messageToJson(info.responseType, decodeMessage(info.responseType, reply));
  }

  /**
   * The next bytes of a process's stdout or stderr (up to `len`), or null at the end of output,
   * however the agent signals it (an OUT_OF_RANGE status, or an empty reply).
   */
  async readOutput(containerId: string, execId: string, which: OutputStreamName, len: number, opts?: CallOptions): Promise<Buffer | null> {
    const method = which === 'stdout' ? 'ReadStdout' : 'ReadStderr';
    try {
      const { data } = await this.request<{ data: Buffer }>(method, { container_id: containerId, exec_id: execId, len }, opts);
      return data.length > 0 ? data : null;
    } catch (err) {
      if (isEndOfOutput(err)) return null;
      throw err;
    }
  }

  /** Everything a process writes to the stream, until its end. */
  async readAllOutput(containerId: string, execId: string, which: OutputStreamName = 'stdout', len = 65536, opts?: CallOptions): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      const data = await this.readOutput(containerId, execId, which, len, opts);
      if (data === null) return Buffer.concat(parts);
      parts.push(data);
    }
  }

  close(): void {
    this.ttrpc.close();
  }
}
