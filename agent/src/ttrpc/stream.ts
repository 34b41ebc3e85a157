// The message queue of one direction of a ttRPC stream, consumed as an async iterator.
import { RpcError } from './status';

export class MessageQueue implements AsyncIterable<Buffer> {
  private items: Buffer[] = [];
  private ended = false;
  private failure: RpcError | undefined;
  private waiter: (() => void) | undefined;

  push(msg: Buffer): void {
    if (this.ended) return;
    this.items.push(msg);
    this.wake();
  }

  end(failure?: RpcError): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = failure;
    this.wake();
  }

  get length(): number {
    return this.items.length;
  }

  /** Next message, or undefined at the end of the stream; throws the stream's failure. */
  async next(): Promise<Buffer | undefined> {
    for (;;) {
      const item = this.items.shift();
      if (item) return item;
      if (this.ended) {
        if (this.failure) throw this.failure;
        return undefined;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const msg = await this.next();
      if (msg === undefined) return;
      yield msg;
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
