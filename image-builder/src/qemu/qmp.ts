// A small QMP (QEMU Machine Protocol) client for VM tests and dev boots: device hotplug,
// queries. We listen on a unix socket and QEMU connects to it at startup (`-chardev socket`
// in client mode + `-mon mode=control`), so there is no window where we would have to poll
// for QEMU's socket to appear.
//
// Protocol (docs/interop/qmp-spec): QEMU sends a greeting {"QMP": {...}}; the client leaves
// capabilities negotiation with {"execute": "qmp_capabilities"}; then each command
// {"execute", "arguments", "id"} gets one {"return"|"error", "id"} reply. Asynchronous
// {"event": ...} messages may come in between. Messages are JSON objects, one per line.
import { createServer, type Server, type Socket } from 'node:net';

export interface QmpEvent {
  event: string;
  data?: unknown;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** One QMP session over the connection QEMU made to our socket. */
export class QmpMonitor {
  readonly events: QmpEvent[] = [];
  private readonly server: Server;
  private socket?: Socket;
  private ready: Promise<void>;
  private buffered = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private eventWaiters = new Set<() => void>();
  private closedError?: Error;
  private rejectReady: (err: Error) => void = () => {};
  private greet: () => void = () => {};
  private readonly greeted = new Promise<void>((resolve) => {
    this.greet = resolve;
  });

  private constructor(
    server: Server,
    private readonly socketPath: string,
  ) {
    this.server = server;
    this.ready = new Promise((resolve, reject) => {
      server.once('connection', (socket) => {
        this.socket = socket;
        socket.setEncoding('utf8');
        socket.on('data', (text: string) => this.receive(text));
        socket.on('close', () => this.fail(new Error(`QMP ${socketPath}: QEMU closed the monitor`)));
        socket.on('error', (err) => this.fail(new Error(`QMP ${socketPath}: ${err.message}`)));
        // The greeting comes first; the capabilities reply is answered like any command.
        this.greeted.then(
          () => this.send('qmp_capabilities', undefined, 10_000).then(() => resolve(), reject),
          reject,
        );
      });
      this.rejectReady = reject;
    });
    this.ready.catch(() => {});
  }

  /** Listens on `socketPath`; QEMU must then be started with qemuQmpArgs(socketPath). */
  static async listen(socketPath: string): Promise<QmpMonitor> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`QMP listen on ${socketPath}: ${err.message}`)));
      server.listen(socketPath, () => resolve());
    });
    // One QEMU, one connection.
    server.maxConnections = 1;
    return new QmpMonitor(server, socketPath);
  }

  /** Runs a QMP command and resolves with its "return" value; rejects with QEMU's error class and text. */
  async execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    await this.withTimeout(this.ready, timeoutMs, `QMP ${command}: QEMU did not connect to ${this.socketPath}`);
    return (await this.send(command, args, timeoutMs)) as T;
  }

  /** Resolves with the first event named `name` (already received or yet to come). */
  waitForEvent(name: string, timeoutMs: number, match: (e: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      let scanned = 0;
      const check = (): void => {
        for (; scanned < this.events.length; scanned++) {
          const e = this.events[scanned]!;
          if (e.event === name && match(e)) return finish(() => resolve(e));
        }
        if (this.closedError) finish(() => reject(new Error(`QMP wait for event ${name}: ${this.closedError!.message}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`QMP wait for event ${name}: not seen in ${timeoutMs} ms`))), timeoutMs);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.eventWaiters.delete(check);
        settle();
      };
      this.eventWaiters.add(check);
      check();
    });
  }

  /** Drops the connection and the listening socket (QEMU keeps running). */
  close(): void {
    this.fail(new Error(`QMP ${this.socketPath}: closed`));
  }

  private send(command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
    if (this.closedError) return Promise.reject(new Error(`QMP ${command}: ${this.closedError.message}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`QMP ${command}: no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      this.socket!.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  private receive(text: string): void {
    const lines = (this.buffered + text).split('\n');
    this.buffered = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === '') continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.fail(new Error(`QMP ${this.socketPath}: not JSON: ${line.slice(0, 200)}`));
        return;
      }
      this.dispatch(msg);
    }
  }

  private dispatch(msg: Record<string, unknown>): void {
    if ('QMP' in msg) return this.greet();
    if (typeof msg.event === 'string') {
      this.events.push(msg as unknown as QmpEvent);
      for (const waiter of [...this.eventWaiters]) waiter();
      return;
    }
    const pending = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (!pending) return; // a reply to a command that already timed out
    this.pending.delete(msg.id as number);
    clearTimeout(pending.timer);
    if ('error' in msg) {
      const error = msg.error as { class?: string; desc?: string };
      pending.reject(new Error(`QMP ${pending.command}: ${error.class ?? 'Error'}: ${error.desc ?? JSON.stringify(error)}`));
    } else {
      pending.resolve(msg.return);
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    this.rejectReady(err);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`QMP ${p.command}: ${err.message}`));
    }
    this.pending.clear();
    for (const waiter of [...this.eventWaiters]) waiter();
    this.socket?.destroy();
    this.server.close();
  }

  private async withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${message} within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** QEMU arguments that connect its QMP monitor to a QmpMonitor listening on `socketPath`. */
export function qemuQmpArgs(socketPath: string): string[] {
  return ['-chardev', `socket,id=qmp,path=${socketPath}`, '-mon', 'chardev=qmp,mode=control'];
}
