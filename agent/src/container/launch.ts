// Starting a container's init (crun create) or an exec (crun exec --detach) with its stdio:
// pipes (stdio-pipes.ts) the process inherits from crun, or a pty whose master crun hands us over the console
// socket. The pid comes from crun's pid file; the exit status from a pidfd on that pid.
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { receiveFd } from '../native/console-socket';
import { waitForProcessExit } from '../native/process-exit';
import { KATA_RUN } from '../paths';
import { InputStream } from './input-stream';
import { OutputStream } from './output-stream';
import { ContainerProcess, type ProcessIo } from './process';
import { PtyStream } from './pty-stream';
import { ociCreate } from './runtime/create';
import { ociExec } from './runtime/exec';
import type { OciRuntime, SpawnedRuntime } from './runtime/oci-runtime';
import { createStdioPipes, type PipedStdio, type StdioPipes } from './stdio-pipes';

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
  /** agent.container_pipe_size: capacity of each stdio pipe (0 = the kernel's default). */
  pipeSize: number;
}

type StdioSpec = 'ignore' | [number, number, number];

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

interface LaunchFiles {
  pidFile: string;
  logFile: string;
  consoleSocket?: string;
  /** The far ends of the stdio pipes, or 'ignore' with a terminal. */
  stdio: StdioSpec;
}

async function launch(o: LaunchOptions, run: (files: LaunchFiles) => SpawnedRuntime): Promise<ContainerProcess> {
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
  let pipes: StdioPipes | undefined;
  let spawned: SpawnedRuntime;
  try {
    if (!o.terminal) pipes = createStdioPipes(o.pipeSize);
    spawned = run({ pidFile, logFile, consoleSocket, stdio: pipes ? pipes.childFds : 'ignore' });
  } catch (err) {
    pipes?.close();
    if (consoleSocket) await rm(consoleSocket, { force: true });
    throw err;
  }
  // crun has its copies now (posix_spawn returns after exec): only the container's ends stay open there.
  pipes?.closeChildEnds();
  const piped: PipedStdio | undefined = pipes?.open();
  let io: ProcessIo | undefined;
  try {
    await spawned.done;
    io = ptyFd ? ptyIo(await ptyFd) : pipeIo(piped!);
    // Tiny files on the tmpfs state dir: sync calls cost less than threadpool round trips.
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${tag} of container ${o.containerId}: bad pid file ${pidFile}`);
    rmSync(pidFile, { force: true });
    rmSync(logFile, { force: true });
    return new ContainerProcess(o.execId, pid, io, waitForProcessExit(pid));
  } catch (err) {
    if (io) for (const s of [io.stdin?.stream, io.stdout.stream, io.stderr?.stream]) s?.destroy();
    else if (piped) for (const s of Object.values(piped)) s.destroy();
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
      stdio: f.stdio,
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
      stdio: f.stdio,
    }),
  );
}
