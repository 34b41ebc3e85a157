// Starting a program without forking the agent: posix_spawn (agent/native/src/spawn.c) shares
// the agent's memory with the child until it execs, where child_process.spawn copies the page
// tables of the whole Node process first. The child starts as child_process would start it
// (default signal dispositions, empty signal mask, only fds 0-2 open). Its exit status comes from
// a pidfd, claimed before spawnProcess returns, so the orphan reaper never takes it.
import { native } from './addon';
import type { ExitStatus } from './exit-status';
import { waitForProcessExit } from './process-exit';

/** An fd the child gets as its fd 0, 1 or 2, or 'ignore' for /dev/null. */
export type SpawnStdioFd = number | 'ignore';

export interface SpawnProcessOptions {
  /** The child's environment (default: the agent's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface SpawnedProcess {
  pid: number;
  /** Settles once, when the process exits (it is reaped then). */
  exited: Promise<ExitStatus>;
}

/**
 * Runs `path` (looked up on PATH when it has no slash) with `args` (argv[0] is `path`).
 * Throws an errno Error naming the program ("spawn crun: ENOENT") when it cannot be started.
 */
export function spawnProcess(
  path: string,
  args: readonly string[],
  stdio: readonly [SpawnStdioFd, SpawnStdioFd, SpawnStdioFd],
  opts: SpawnProcessOptions = {},
): SpawnedProcess {
  const env = opts.env === undefined ? null : Object.entries(opts.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  const fds = stdio.map((fd) => (fd === 'ignore' ? -1 : fd));
  const pid = native().spawnProcess(path, [...args], env, fds, opts.cwd === undefined ? undefined : { cwd: opts.cwd });
  // Same synchronous turn as the spawn: the reaper, which runs from the event loop, sees the claim.
  const exited = waitForProcessExit(pid);
  // Not waited for (no watch could be set up, or waiting failed): the child must not run on
  // unsupervised. Unreaped, so the pid is still this child's; and this runs as a microtask right
  // after the rejection, before the reaper (released the pid) can have its next pass.
  exited.catch(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  return { pid, exited };
}
