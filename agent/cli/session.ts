// One connection to the agent per agent-ctl run, opened on the first call, with the deadlines
// the CLI applies: --timeout for ordinary calls; calls that wait on the guest (WaitProcess,
// Read*, GetOOMEvent) have none unless --timeout was given, since a process may run for hours.
import { AgentClient, type Message, type OutputStreamName, resolveMethod } from '../client/agent-client';
import type { AgentServiceMethods } from '../src/proto/messages.generated';
import { messageToJson } from '../src/proto/schema';
import { UsageError } from './command';

type AgentMethod = keyof AgentServiceMethods;

/** The request type of an AgentService method; of another service's ("Health/Check"), any object. */
type RequestOf<M extends string> = M extends AgentMethod ? AgentServiceMethods[M]['requestInit'] : Message;

export interface SessionOptions {
  addr: string | undefined;
  timeoutMs: number;
  /** Whether --timeout was given (then it bounds the blocking calls too). */
  explicitTimeout: boolean;
}

export interface RequestOptions {
  /** The call waits on the guest (a process exit, output, an OOM): no default deadline. */
  blocking?: boolean;
}

export class AgentSession {
  #client: Promise<AgentClient> | undefined;

  constructor(readonly opts: SessionOptions) {}

  client(): Promise<AgentClient> {
    if (!this.#client) {
      const { addr, timeoutMs } = this.opts;
      if (!addr) throw new UsageError('no agent address: give --addr or set KATA_AGENT_ADDR');
      this.#client = AgentClient.connect(addr, { timeoutMs: Math.min(timeoutMs, 10_000) });
    }
    return this.#client;
  }

  #deadline(opts: RequestOptions): number {
    return opts.blocking && !this.opts.explicitTimeout ? 0 : this.opts.timeoutMs;
  }

  /**
   * An AgentService call: the request as encodeMessage takes it, the reply as decoded (proto
   * field names, 64-bit as strings, bytes as Buffers), both typed by the method.
   */
  async request<M extends AgentMethod>(method: M, req?: AgentServiceMethods[M]['requestInit'], opts: RequestOptions = {}): Promise<AgentServiceMethods[M]['response']> {
    const client = await this.client();
    return client.request<AgentServiceMethods[M]['response']>(method, req ?? {}, { timeoutMs: this.#deadline(opts) });
  }

  /** The next output of a process, or null at its end; waits on the guest (blocking). */
  async readOutput(containerId: string, execId: string, which: OutputStreamName, len: number): Promise<Buffer | null> {
    const client = await this.client();
    return client.readOutput(containerId, execId, which, len, { timeoutMs: this.#deadline({ blocking: true }) });
  }

  /** Same request; the reply as proto-JSON (defaults left out, bytes as base64), for printing. */
  async requestJson<M extends string>(method: M, req?: RequestOf<M>, opts: RequestOptions = {}): Promise<Message> {
    const client = await this.client();
    const reply = await client.request(method, req ?? {}, { timeoutMs: this.#deadline(opts) });
    return messageToJson(resolveMethod(method).responseType, reply);
  }

  close(): void {
    if (!this.#client) return;
    this.#client.then(
      (c) => c.close(),
      () => undefined,
    );
  }
}
