// Which handler serves which service/method.
import type { Metadata } from './messages';

export interface CallContext {
  service: string;
  method: string;
  metadata: Metadata;
  /** Absolute deadline in Date.now() milliseconds, when the caller set a timeout. */
  deadline?: number;
  /** Aborted when the deadline passes, the client goes away or the server closes. */
  signal: AbortSignal;
}

export type UnaryHandler = (request: Buffer, ctx: CallContext) => Promise<Uint8Array> | Uint8Array;

export interface ServerStream {
  /** Messages the client sends (client streaming); ends when the client closes its side. */
  readonly received: AsyncIterable<Buffer>;
  /** The request message of a server-streaming call (empty for client streaming). */
  readonly request: Buffer;
  /** Sends one message to the client; resolves when the socket can take more. */
  send(msg: Uint8Array): Promise<void>;
}

export type StreamHandler = (stream: ServerStream, ctx: CallContext) => Promise<Uint8Array | void>;

export type MethodEntry = { kind: 'unary'; handler: UnaryHandler } | { kind: 'stream'; handler: StreamHandler };

export class MethodRegistry {
  private services = new Map<string, Map<string, MethodEntry>>();

  register(service: string, method: string, entry: MethodEntry): void {
    let methods = this.services.get(service);
    if (!methods) this.services.set(service, (methods = new Map()));
    methods.set(method, entry);
  }

  lookup(service: string, method: string): MethodEntry | { missing: string } {
    const methods = this.services.get(service);
    if (!methods) return { missing: `service ${service} is not served here` };
    const entry = methods.get(method);
    if (!entry) return { missing: `method ${method} is not a method of ${service}` };
    return entry;
  }

  serviceNames(): string[] {
    return [...this.services.keys()];
  }
}
