// Host-side typed client of the agent: JSON-shaped requests in, JSON-shaped replies out.
import {
  AGENT_SERVICE,
  decodeMessage,
  encodeMessage,
  findMethod,
  type MethodInfo,
  messageFromJson,
  messageToJson,
} from '../proto/schema';
import { TtrpcClient, type CallOptions } from '../ttrpc/client';
import { Code, RpcError } from '../ttrpc/status';

export type Message = Record<string, unknown>;

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
  async request<T extends Message = Message>(method: string, req: Message = {}, opts?: CallOptions): Promise<T> {
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

  close(): void {
    this.ttrpc.close();
  }
}
