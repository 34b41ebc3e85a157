// Where PID 1's logs go: its stdio when the kernel gave it a console, /dev/console otherwise.
import { fstatSync, openSync, writeSync } from 'node:fs';
import { type LogSink, stderrSink } from '../log/logger';

export function consoleSink(): LogSink {
  try {
    fstatSync(2);
    return fdSink(2);
  } catch {
    return fdSink(openSync('/dev/console', 'w'));
  }
}

/**
 * Not PID 1: stderr as it is. A file or a terminal is written like the console (fdSink), without
 * setting up process.stderr's stream; a pipe goes through the stream, which copes with a reader
 * that is slow or gone.
 */
export function stderrLogSink(): LogSink {
  try {
    const st = fstatSync(2);
    if (st.isFile() || st.isCharacterDevice()) return fdSink(2);
  } catch {
    // No fd 2: the stream reports that itself.
  }
  return stderrSink;
}

/**
 * Whole lines written synchronously to `fd`, as Node writes to a terminal anyway, but without
 * setting up process.stderr's tty stream: a real cost at boot under TCG. A non-blocking stderr
 * (a pipe another part of Node set up) falls back to the stream.
 */
export function fdSink(fd: number): LogSink {
  return {
    write: (line) => {
      const bytes = Buffer.from(line);
      try {
        for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && fd === 2) stderrSink.write(line);
        // Otherwise the console is gone: nowhere left to say so.
      }
    },
  };
}
