// A container process's stdin/stdout/stderr as real pipes, as Kata's agent makes them: the
// process inherits the far ends through crun, the agent keeps the near ends as streams, and
// agent.container_pipe_size sets each pipe's capacity (F_SETPIPE_SZ). libuv's own 'pipe'
// stdio would be socket pairs, whose buffer that option cannot size.
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { createPipe, type PipeFds, setPipeSize } from '../native/guest-ops';

/** The agent's ends of a process's stdio. */
export interface PipedStdio {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
}

export interface StdioPipes {
  /** What crun gets as fds 0, 1, 2 (and passes on to the container process). */
  readonly childFds: [number, number, number];
  /** Closes the agent's copies of the child's ends: call once crun has been spawned. */
  closeChildEnds(): void;
  /** Wraps the agent's ends as streams (they own the fds from then on). */
  open(): PipedStdio;
  /** Closes every fd not yet handed to a stream (a launch that failed before open()). */
  close(): void;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** Three pipes; `size` > 0 sets their capacity (the kernel rounds up to a power-of-two pages). */
export function createStdioPipes(size: number): StdioPipes {
  const pipes: PipeFds[] = [];
  try {
    for (const name of ['stdin', 'stdout', 'stderr']) {
      const p = createPipe();
      pipes.push(p);
      if (size > 0) {
        try {
          setPipeSize(p.write, size);
        } catch (err) {
          throw new Error(`set the ${name} pipe size to ${size} (agent.container_pipe_size): ${(err as Error).message}`);
        }
      }
    }
  } catch (err) {
    for (const p of pipes) {
      closeQuietly(p.read);
      closeQuietly(p.write);
    }
    throw err;
  }
  const [stdin, stdout, stderr] = pipes as [PipeFds, PipeFds, PipeFds];
  let childOpen = true;
  let agentOpen = true;
  return {
    childFds: [stdin.read, stdout.write, stderr.write],
    closeChildEnds() {
      if (!childOpen) return;
      childOpen = false;
      for (const fd of [stdin.read, stdout.write, stderr.write]) closeQuietly(fd);
    },
    open() {
      if (!agentOpen) throw new Error('stdio pipes already opened or closed');
      agentOpen = false;
      return {
        stdin: new Socket({ fd: stdin.write, readable: false, writable: true }),
        stdout: new Socket({ fd: stdout.read, readable: true, writable: false }),
        stderr: new Socket({ fd: stderr.read, readable: true, writable: false }),
      };
    },
    close() {
      this.closeChildEnds();
      if (!agentOpen) return;
      agentOpen = false;
      for (const fd of [stdin.write, stdout.read, stderr.read]) closeQuietly(fd);
    },
  };
}
