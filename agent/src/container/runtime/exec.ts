// crun exec --detach: starts one more process in a running container and leaves it to us
// (we are its subreaper or PID 1), so its exit status comes from a pidfd, exactly.
import type { OciRuntime, RuntimeStdio, SpawnedRuntime } from './oci-runtime';

export interface OciExecOptions {
  id: string;
  processFile: string;
  pidFile: string;
  logFile: string;
  consoleSocket?: string;
  stdio: RuntimeStdio;
}

export function ociExec(rt: OciRuntime, o: OciExecOptions): SpawnedRuntime {
  const args = ['exec', '--detach', `--process=${o.processFile}`, `--pid-file=${o.pidFile}`];
  if (o.consoleSocket) args.push(`--console-socket=${o.consoleSocket}`);
  args.push(o.id);
  return rt.spawn('exec', o.id, args, o.stdio, o.logFile);
}
