// Runs virtiofsd for a boot's virtio-fs share and ends it with the VM. It never outlives us:
// it runs under setpriv --pdeathsig KILL (guarded-command.ts), in a process group of its own
// (its namespace sandbox forks a second process, and a signal to the group reaches both), and
// every live one is killed on process exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { VirtioFsShare } from './boot-options';
import { guardedCommand } from './guarded-command';
import { virtiofsdArgs } from './virtio-fs';

export interface VirtiofsdExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface VirtiofsdDaemon {
  pid: number;
  /** The full command, for logs and reproducing by hand. */
  command: string[];
  socketPath: string;
  /** Resolves once every virtiofsd process is gone (its stderr pipe closed with the last one). */
  exited: Promise<VirtiofsdExit>;
  /** What virtiofsd wrote to stderr so far. */
  log(): string;
  /**
   * Ends it unless already gone, and resolves when gone: first up to `graceMs` for it to end by
   * itself (it does once its frontend disconnects), then SIGTERM to its group, SIGKILL 3 s later.
   */
  stop(graceMs?: number): Promise<VirtiofsdExit>;
}

export interface VirtiofsdStart {
  /** argv prefix that starts virtiofsd (virtiofsdCommand()). */
  virtiofsd: string[];
  share: VirtioFsShare;
  socketPath: string;
  spawnPrefix?: string[];
  /** Default 15 s. */
  readyTimeoutMs?: number;
}

// virtiofsd 1.x prints this (at its default log level, info) once it listens on the socket and
// has entered its sandbox. The socket file appears earlier, before the sandbox, which can still
// fail: the line is the better sign that QEMU will be served.
const LISTENING = /Waiting for vhost-user socket connection/;
const STOP_GRACE_MS = 3000;
const LOG_LIMIT = 64 * 1024;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal); // the group is gone (or was never made): the process itself, if any
  }
}

function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) signalGroup(child, 'SIGKILL');
  });
}

/** Starts virtiofsd and resolves once it listens on its socket, inside its sandbox. */
export async function startVirtiofsd(o: VirtiofsdStart): Promise<VirtiofsdDaemon> {
  // Behind a spawnPrefix the directory may exist only where the prefix goes (virtiofsd then says
  // so itself, in the error below).
  if (!o.spawnPrefix?.length && !existsSync(o.share.sharedDir)) throw new Error(`virtiofsd: shared dir ${o.share.sharedDir} does not exist`);
  const command = guardedCommand([...o.virtiofsd, ...virtiofsdArgs(o.share, o.socketPath)], o.spawnPrefix);
  // detached: a process group of its own, so stop() reaches the sandbox's forked child too.
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  live.add(child);
  killAllOnExit();
  let stderr = '';
  let settleExit: (exit: VirtiofsdExit) => void = () => {};
  const exited = new Promise<VirtiofsdExit>((resolve) => {
    settleExit = resolve;
  });
  child.on('close', (code, signal) => {
    live.delete(child);
    settleExit({ code, signal });
  });
  const spawnError = new Promise<never>((_, reject) => {
    child.on('error', (err) => {
      live.delete(child);
      settleExit({ code: null, signal: null });
      reject(new Error(`virtiofsd: start ${command.join(' ')}: ${err.message}`));
    });
  });
  spawnError.catch(() => {});

  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    const timeoutMs = o.readyTimeoutMs ?? 15_000;
    timer = setTimeout(() => reject(new Error(`virtiofsd: not listening on ${o.socketPath} after ${timeoutMs} ms (no "Waiting for vhost-user socket connection" on its stderr); it said: ${stderr.trim() || '(nothing)'}`)), timeoutMs);
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < LOG_LIMIT) stderr += chunk.toString('utf8');
      if (LISTENING.test(stderr)) resolve();
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`virtiofsd exited (${signal ?? `code ${code}`}) before listening on ${o.socketPath}: ${stderr.trim() || '(no output)'}\ncommand: ${command.join(' ')}`)),
    );
  });

  const stop = async (graceMs = 0): Promise<VirtiofsdExit> => {
    if (live.has(child) && graceMs > 0) {
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (grace = setTimeout(resolve, graceMs)))]);
      clearTimeout(grace);
    }
    if (live.has(child)) {
      signalGroup(child, 'SIGTERM');
      const escalate = setTimeout(() => signalGroup(child, 'SIGKILL'), STOP_GRACE_MS);
      try {
        return await exited;
      } finally {
        clearTimeout(escalate);
      }
    }
    return exited;
  };

  try {
    await Promise.race([ready, spawnError]);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { pid: child.pid ?? -1, command, socketPath: o.socketPath, exited, log: () => stderr, stop };
}
