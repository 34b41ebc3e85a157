// crun create: sets up the container and leaves its init waiting for "start".
import type { OciRuntime, RuntimeStdio, SpawnedRuntime } from './oci-runtime';

export interface OciCreateOptions {
  id: string;
  bundle: string;
  pidFile: string;
  logFile: string;
  /** Unix socket that gets the pty master when process.terminal is set. */
  consoleSocket?: string;
  /** The container's stdio as crun passes it on (the far ends of pipes), or ignored with a terminal. */
  stdio: RuntimeStdio;
}

export function ociCreate(rt: OciRuntime, o: OciCreateOptions): SpawnedRuntime {
  const args = ['create', `--bundle=${o.bundle}`, `--pid-file=${o.pidFile}`];
  if (o.consoleSocket) args.push(`--console-socket=${o.consoleSocket}`);
  args.push(o.id);
  return rt.spawn('create', o.id, args, o.stdio, o.logFile);
}
