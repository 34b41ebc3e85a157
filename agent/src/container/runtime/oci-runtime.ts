// How the agent runs its OCI runtime (crun): the binary, its global flags, and turning a failed
// invocation into an error that names the operation, the container and crun's own message.
import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import type { Logger } from '../../log/logger';
import { KATA_RUN } from '../../paths';

export type CgroupManager = 'cgroupfs' | 'systemd' | 'disabled';

export interface OciRuntimeOptions {
  /** The runtime binary (default "crun" on PATH). */
  path?: string;
  /** crun --root: where it keeps container state (default /run/kata-containers/.crun). */
  root?: string;
  /**
   * crun --cgroup-manager. A guest has a clean cgroup2 tree: cgroupfs. A host whose cgroup
   * layout crun cannot drive (hybrid v1/v2, no CAP_SYS_RESOURCE) needs "disabled".
   */
  cgroupManager?: CgroupManager;
  log: Logger;
}

export class OciRuntimeError extends Error {
  constructor(
    readonly operation: string,
    readonly containerId: string,
    readonly detail: string,
    readonly exitCode: number | null,
  ) {
    super(`crun ${operation} ${containerId}: ${detail}`);
    this.name = 'OciRuntimeError';
  }
}

export interface RunResult {
  stdout: string;
}

export interface SpawnedRuntime {
  child: ChildProcess;
  /** Resolves when crun itself exits (its children may live on); rejects with an OciRuntimeError. */
  done: Promise<void>;
}

export class OciRuntime {
  readonly path: string;
  readonly root: string;
  readonly cgroupManager: CgroupManager;
  readonly log: Logger;

  constructor(opts: OciRuntimeOptions) {
    this.path = opts.path ?? 'crun';
    this.root = opts.root ?? `${KATA_RUN}/.crun`;
    this.cgroupManager = opts.cgroupManager ?? 'cgroupfs';
    this.log = opts.log;
  }

  globalArgs(logFile?: string): string[] {
    const args = [`--root=${this.root}`, `--cgroup-manager=${this.cgroupManager}`];
    if (logFile) args.push(`--log=file:${logFile}`, '--log-format=json');
    return args;
  }

  /**
   * Starts crun with `stdio` as given (the container process may inherit it). Errors come from
   * crun's log file, since its stderr may be the container's.
   */
  spawn(operation: string, containerId: string, args: string[], stdio: StdioOptions, logFile: string): SpawnedRuntime {
    const child = spawn(this.path, [...this.globalArgs(logFile), ...args], { stdio });
    const done = new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new OciRuntimeError(operation, containerId, err.message, null)));
      child.once('exit', (code, signal) => {
        if (code === 0) return resolve();
        void readRuntimeLog(logFile).then((detail) =>
          reject(new OciRuntimeError(operation, containerId, detail || `exited with ${code ?? signal}`, code)),
        );
      });
    });
    return { child, done };
  }

  /** Runs crun to completion with its output captured (operations that start no process). */
  run(operation: string, containerId: string, args: string[], input?: string): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.path, [...this.globalArgs(), ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (b: Buffer) => out.push(b));
      child.stderr!.on('data', (b: Buffer) => err.push(b));
      if (input !== undefined) child.stdin!.end(input);
      child.once('error', (e) => reject(new OciRuntimeError(operation, containerId, e.message, null)));
      child.once('close', (code, signal) => {
        if (code === 0) return resolve({ stdout: Buffer.concat(out).toString() });
        const detail = Buffer.concat(err).toString().trim() || `exited with ${code ?? signal}`;
        reject(new OciRuntimeError(operation, containerId, detail, code));
      });
    });
  }
}

/** crun's JSON log lines, errors only, joined; the file is removed afterwards. */
export async function readRuntimeLog(logFile: string): Promise<string> {
  let text = '';
  try {
    text = await readFile(logFile, 'utf8');
  } catch {
    return '';
  }
  await rm(logFile, { force: true });
  const messages: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; level?: string };
      if (rec.level === 'error' || rec.level === 'fatal' || rec.level === undefined) messages.push(String(rec.msg));
    } catch {
      messages.push(line);
    }
  }
  return messages.join('; ');
}
