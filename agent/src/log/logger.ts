// Structured logs: one JSON object per line, the shape Kata's runtime reads from the agent
// (level, msg, ts, name, pid, source, subsystem, plus fields).
import type { LogLevel } from '../config/config';

const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 };

export interface LogSink {
  write(line: string): void;
}

export type LogFields = Record<string, unknown>;

export class Logger {
  constructor(
    private readonly state: { level: LogLevel; sinks: Set<LogSink> },
    private readonly base: LogFields = {},
  ) {}

  static create(level: LogLevel, sinks: LogSink[] = [stderrSink]): Logger {
    return new Logger({ level, sinks: new Set(sinks) });
  }

  /** A logger whose lines carry extra fields (e.g. subsystem, container id). */
  child(fields: LogFields): Logger {
    return new Logger(this.state, { ...this.base, ...fields });
  }

  setLevel(level: LogLevel): void {
    this.state.level = level;
  }

  addSink(sink: LogSink): void {
    this.state.sinks.add(sink);
  }

  removeSink(sink: LogSink): void {
    this.state.sinks.delete(sink);
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.state.level];
  }

  trace(msg: string, fields?: LogFields): void {
    this.log('trace', msg, fields);
  }
  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }
  critical(msg: string, fields?: LogFields): void {
    this.log('critical', msg, fields);
  }

  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const record: LogFields = {
      ts: new Date().toISOString(),
      level,
      msg,
      name: 'kata-agent',
      source: 'agent',
      pid: process.pid,
      ...this.base,
      ...fields,
    };
    let line: string;
    try {
      line = JSON.stringify(record, errorReplacer) + '\n';
    } catch {
      line = JSON.stringify({ ts: record.ts, level, msg, note: 'fields not serialisable' }) + '\n';
    }
    for (const sink of this.state.sinks) {
      try {
        sink.write(line);
      } catch {
        // A broken sink (e.g. a log vport whose reader went away) must not stop the agent.
      }
    }
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { message: value.message, code: (value as NodeJS.ErrnoException).code, stack: value.stack };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * process.stderr. Once it fails (its reader went away: EPIPE) the sink drops lines: otherwise
 * the stream's 'error' would reach uncaughtException, which ends the agent (init/pid1.ts) over a
 * log reader gone away, and whose own log line would fail again.
 */
export const stderrSink: LogSink = {
  write: (line) => {
    if (stderrState === 'broken') return;
    if (stderrState === 'unwatched') {
      process.stderr.on('error', () => void (stderrState = 'broken'));
      stderrState = 'watched';
    }
    process.stderr.write(line);
  },
};
let stderrState: 'unwatched' | 'watched' | 'broken' = 'unwatched';
