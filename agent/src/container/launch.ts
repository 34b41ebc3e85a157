// Starting a container's init (crun create) or an exec (crun exec --detach) with its stdio:
// pipes the process inherits from crun, or a pty whose master crun hands us over the console
// socket. The pid comes from crun's pid file; the exit status from a pidfd on that pid.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { receiveFd } from '../native/console-socket';
import { waitForProcessExit } from '../native/process-exit';
import { KATA_RUN } from '../paths';
import { InputStream } from './input-stream';
import { OutputStream } from './output-stream';
import { ContainerProcess, type ProcessIo } from './process';
import { PtyStream } from './pty-stream';
import { ociCreate } from './runtime/create';
import { ociExec } from './runtime/exec';
import type { OciRuntime, PipedStdio, SpawnedRuntime } from './runtime/oci-runtime';

/** Console sockets live in a short directory: a unix socket path has at most 107 bytes. */
const CONSOLE_DIR = `${KATA_RUN}/.console`;
let consoleSeq = 0;

export interface LaunchOptions {
  runtime: OciRuntime;
  containerId: string;
  execId: string;
  terminal: boolean;
  /** Where pid and log files go (the container's state dir). */
  stateDir: string;
  /** How long crun may take to hand over the pty master. */
  timeoutMs: number;
}

function pipeIo(stdio: PipedStdio): ProcessIo {
  return {
    stdin: new InputStream(stdio.stdin),
    stdout: new OutputStream(stdio.stdout),
    stderr: new OutputStream(stdio.stderr),
  };
}

function ptyIo(fd: number): ProcessIo {
  const pty = new PtyStream(fd);
  return { stdin: new InputStream(pty, true), stdout: new OutputStream(pty), pty };
}

async function launch(o: LaunchOptions, run: (files: { pidFile: string; logFile: string; consoleSocket?: string }) => SpawnedRuntime): Promise<ContainerProcess> {
  const tag = o.execId === o.containerId ? 'init' : `exec-${o.execId}`;
  const pidFile = `${o.stateDir}/${tag}.pid`;
  const logFile = `${o.stateDir}/${tag}.log`;
  let consoleSocket: string | undefined;
  let ptyFd: Promise<number> | undefined;
  if (o.terminal) {
    await mkdir(CONSOLE_DIR, { recursive: true });
    consoleSocket = `${CONSOLE_DIR}/${process.pid}-${++consoleSeq}.sock`;
    ptyFd = receiveFd(consoleSocket, o.timeoutMs);
    ptyFd.catch(() => undefined); // awaited below, or dropped when crun fails first
  }
  const spawned = run({ pidFile, logFile, consoleSocket });
  let io: ProcessIo | undefined;
  try {
    await spawned.done;
    io = ptyFd ? ptyIo(await ptyFd) : pipeIo(spawned.stdio!);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${tag} of container ${o.containerId}: bad pid file ${pidFile}`);
    await rm(pidFile, { force: true });
    await rm(logFile, { force: true });
    return new ContainerProcess(o.execId, pid, io, waitForProcessExit(pid));
  } catch (err) {
    if (io) for (const s of [io.stdin?.stream, io.stdout.stream, io.stderr?.stream]) s?.destroy();
    else if (spawned.stdio) for (const s of Object.values(spawned.stdio)) s.destroy();
    if (ptyFd && consoleSocket) {
      // crun failed before connecting: stop listening (the socket file goes with it).
      await rm(consoleSocket, { force: true });
    }
    throw err;
  }
}

/** crun create: the init waits for StartContainer. */
export function launchInit(o: LaunchOptions & { bundle: string }): Promise<ContainerProcess> {
  return launch(o, (f) =>
    ociCreate(o.runtime, {
      id: o.containerId,
      bundle: o.bundle,
      pidFile: f.pidFile,
      logFile: f.logFile,
      consoleSocket: f.consoleSocket,
      stdio: f.consoleSocket ? 'ignore' : 'pipe',
    }),
  );
}

/** crun exec --detach with the OCI process JSON in `processFile`. */
export function launchExec(o: LaunchOptions & { processFile: string }): Promise<ContainerProcess> {
  return launch(o, (f) =>
    ociExec(o.runtime, {
      id: o.containerId,
      processFile: o.processFile,
      pidFile: f.pidFile,
      logFile: f.logFile,
      consoleSocket: f.consoleSocket,
      stdio: f.consoleSocket ? 'ignore' : 'pipe',
    }),
  );
}
