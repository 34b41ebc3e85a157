// The guest console as lines: kept in memory, waited on by pattern, optionally copied to a file
// or stream as they arrive.
import { createWriteStream, type WriteStream } from 'node:fs';

export class ConsoleLines {
  readonly lines: string[] = [];
  private partial = '';
  private waiters = new Set<() => void>();
  private closed = false;
  private readonly file?: WriteStream;

  constructor(
    logPath: string | undefined,
    private readonly echo: NodeJS.WritableStream | undefined,
  ) {
    if (logPath) this.file = createWriteStream(logPath);
  }

  push(chunk: Buffer): void {
    const text = chunk.toString('utf8');
    this.file?.write(text);
    this.echo?.write(text);
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    for (const part of parts) this.lines.push(part.replace(/\r$/, ''));
    if (parts.length > 0) this.notify();
  }

  /** QEMU exited: flush a last unterminated line and wake waiters so they can fail fast. */
  close(): Promise<void> {
    if (this.partial.length > 0) this.lines.push(this.partial.replace(/\r$/, ''));
    this.partial = '';
    this.closed = true;
    this.notify();
    if (!this.file) return Promise.resolve();
    const file = this.file;
    return new Promise((resolve) => file.end(resolve));
  }

  find(pattern: RegExp, from = 0): RegExpExecArray | undefined {
    for (let i = from; i < this.lines.length; i++) {
      const match = pattern.exec(this.lines[i]!);
      if (match) return match;
    }
    return undefined;
  }

  tail(count: number): string[] {
    return this.lines.slice(-count);
  }

  /** Resolves with the first line matching `pattern` (already printed or yet to come). */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      let scanned = 0;
      const check = (): void => {
        const match = this.find(pattern, scanned);
        scanned = this.lines.length;
        if (match) return finish(() => resolve(match));
        if (this.closed) {
          finish(() =>
            reject(new Error(`wait for console ${pattern}: QEMU exited first; last lines:\n${this.tail(15).join('\n')}`)),
          );
        }
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`wait for console ${pattern}: not seen in ${timeoutMs} ms; last lines:\n${this.tail(15).join('\n')}`)),
          ),
        timeoutMs,
      );
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
