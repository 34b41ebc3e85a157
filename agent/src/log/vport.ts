// agent.log_vport: the agent listens on a vsock port and streams its log lines to the host
// reader that connects (Kata's runtime does). Lines logged while no reader is connected are
// kept in a bounded buffer (oldest dropped first) and sent when one arrives.
import type { Duplex } from 'node:stream';
import { listenAddress, type Listener, type ListenOptions } from '../transport/listen';
import type { LogSink } from './logger';

const BACKLOG_BYTES = 1 << 20;

export class LogVportSink implements LogSink {
  private reader: Duplex | undefined;
  private backlog: string[] = [];
  private backlogBytes = 0;
  private dropped = 0;

  write(line: string): void {
    if (this.reader && !this.reader.destroyed && !this.reader.writableNeedDrain) {
      this.reader.write(line);
      return;
    }
    this.backlog.push(line);
    this.backlogBytes += line.length;
    while (this.backlogBytes > BACKLOG_BYTES && this.backlog.length > 1) {
      this.backlogBytes -= this.backlog.shift()!.length;
      this.dropped++;
    }
  }

  attach(reader: Duplex): void {
    this.reader?.destroy(); // one reader at a time: the newest wins
    this.reader = reader;
    reader.on('error', () => undefined);
    reader.on('close', () => {
      if (this.reader === reader) this.reader = undefined;
    });
    reader.on('drain', () => this.flush());
    reader.resume(); // nothing is read from the host; discard anything it sends
    if (this.dropped > 0) {
      reader.write(JSON.stringify({ ts: new Date().toISOString(), level: 'warn', msg: 'log lines dropped while no reader was connected', dropped: this.dropped, name: 'kata-agent' }) + '\n');
      this.dropped = 0;
    }
    this.flush();
  }

  private flush(): void {
    while (this.reader && this.backlog.length > 0 && !this.reader.writableNeedDrain) {
      const line = this.backlog.shift()!;
      this.backlogBytes -= line.length;
      this.reader.write(line);
    }
  }
}

export async function serveLogVport(address: string, sink: LogVportSink, opts: ListenOptions): Promise<Listener> {
  return listenAddress(address, (socket) => sink.attach(socket), opts);
}
