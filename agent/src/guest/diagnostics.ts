// GetDiagnosticData: text a person debugging a pod can read without a debug console.
//   log_type "agent" (or ""): the agent's own most recent log lines (JSON, one per line),
//     only those mentioning container_id when one is given;
//   log_type "kernel" (or "dmesg"): the tail of the kernel log ring (/dev/kmsg), as
//     "[seconds.micros] message" lines.
import { closeSync, constants, openSync, readSync } from 'node:fs';
import type { LogSink } from '../log/logger';
import type { GetDiagnosticDataRequest } from '../proto/messages.generated';
import { Code, RpcError } from '../ttrpc/status';

/** A log sink that remembers the last `capacity` lines (attached to the agent's logger). */
export class RecentLogLines implements LogSink {
  readonly #lines: string[] = [];
  #next = 0;
  constructor(readonly capacity = 1000) {}

  write(line: string): void {
    const text = line.endsWith('\n') ? line.slice(0, -1) : line;
    if (this.#lines.length < this.capacity) this.#lines.push(text);
    else this.#lines[this.#next] = text;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** Oldest first. */
  lines(): string[] {
    return this.#lines.length < this.capacity ? [...this.#lines] : [...this.#lines.slice(this.#next), ...this.#lines.slice(0, this.#next)];
  }
}

// What one response carries at most (well under the 4 MiB ttRPC message limit).
export const MAX_DIAGNOSTIC_BYTES = 1 << 20;

function tail(lines: string[], maxBytes: number): string {
  let bytes = 0;
  let start = lines.length;
  while (start > 0 && bytes + Buffer.byteLength(lines[start - 1]!) + 1 <= maxBytes) bytes += Buffer.byteLength(lines[--start]!) + 1;
  return lines.slice(start).map((l) => l + '\n').join('');
}

/** Reads every record the kernel log ring still holds, without blocking (O_NONBLOCK: EAGAIN at the end). */
export function readKernelLog(devKmsg = '/dev/kmsg'): string[] {
  const fd = openSync(devKmsg, constants.O_RDONLY | constants.O_NONBLOCK);
  const out: string[] = [];
  const buf = Buffer.alloc(8192);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break;
        if (code === 'EPIPE') continue; // records overwritten while reading: go on with the next
        throw err;
      }
      if (n === 0) break;
      // "prio,seq,usec,flags;message\n continuation lines"
      const record = buf.toString('utf8', 0, n);
      const semi = record.indexOf(';');
      const header = record.slice(0, semi).split(',');
      const usec = Number(header[2] ?? 0);
      const message = record.slice(semi + 1).split('\n')[0] ?? '';
      out.push(`[${(usec / 1e6).toFixed(6).padStart(12)}] ${message}`);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

export interface DiagnosticSources {
  recentLogs: RecentLogLines;
  devKmsg?: string;
}

export function diagnosticData(req: Partial<GetDiagnosticDataRequest>, sources: DiagnosticSources): string {
  const type = (req.log_type ?? '').toLowerCase();
  if (type === '' || type === 'agent') {
    const id = req.container_id ?? '';
    const lines = sources.recentLogs.lines().filter((l) => id === '' || l.includes(id));
    return tail(lines, MAX_DIAGNOSTIC_BYTES);
  }
  if (type === 'kernel' || type === 'dmesg') {
    let lines: string[];
    try {
      lines = readKernelLog(sources.devKmsg);
    } catch (err) {
      throw new RpcError(Code.UNAVAILABLE, `GetDiagnosticData: read kernel log ${sources.devKmsg ?? '/dev/kmsg'}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return tail(lines, MAX_DIAGNOSTIC_BYTES);
  }
  throw new RpcError(Code.INVALID_ARGUMENT, `GetDiagnosticData: log_type "${req.log_type}" is not one of "agent", "kernel" ("" = agent)`);
}
