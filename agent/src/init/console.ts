// Where PID 1's logs go: its stdio when the kernel gave it a console, /dev/console otherwise.
import { fstatSync, openSync, writeSync } from 'node:fs';
import type { LogSink } from '../log/logger';

export function consoleSink(): LogSink {
  try {
    fstatSync(2);
    return { write: (line) => void process.stderr.write(line) };
  } catch {
    const fd = openSync('/dev/console', 'w');
    return { write: (line) => void writeSync(fd, line) };
  }
}
