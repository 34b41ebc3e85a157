// One process of a container (its init, or an exec): stdio, terminal and exit status.
import type { ExitStatus } from '../native/exit-status';
import { constants } from 'node:os';
import type { InputStream } from './input-stream';
import type { OutputStream } from './output-stream';
import type { PtyStream } from './pty-stream';

export interface ProcessIo {
  stdin?: InputStream;
  stdout: OutputStream;
  /** Absent with a terminal: stderr goes to the same pty as stdout. */
  stderr?: OutputStream;
  pty?: PtyStream;
}

/** Kata's WaitProcess status: the exit code, or 128+N for death by signal N. */
export function waitStatusOf(status: ExitStatus): number {
  if (status.code !== null) return status.code;
  return 128 + (constants.signals[status.signal] ?? 0);
}

export class ContainerProcess {
  #exitStatus: number | undefined;
  readonly exited: Promise<number>;
  /** Set once a WaitProcess has collected the status (execs are forgotten after that). */
  waited = false;

  constructor(
    readonly execId: string,
    readonly pid: number,
    readonly io: ProcessIo,
    exit: Promise<ExitStatus>,
  ) {
    this.exited = exit.then((s) => (this.#exitStatus = waitStatusOf(s)));
  }

  get exitStatus(): number | undefined {
    return this.#exitStatus;
  }

  get running(): boolean {
    return this.#exitStatus === undefined;
  }

  /** Output read to the end on every stream. */
  get drained(): boolean {
    return this.io.stdout.drained && (this.io.stderr?.drained ?? true);
  }

  /** Signals the process itself (not through crun); ESRCH is fine: it is already gone. */
  signal(signal: number): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /** Frees the agent's ends of the stdio (the process may still hold its own). */
  closeIo(): void {
    this.io.stdin?.destroy();
    this.io.stdout.destroy();
    this.io.stderr?.destroy();
    this.io.pty?.destroy();
  }
}
