// Starts QEMU for a dev boot and hands back a handle: console lines, the agent channel, the exit.
// QEMU never outlives us: it runs under `setpriv --pdeathsig KILL` (the kernel kills it if this
// process dies, even by SIGKILL) and every live VM is killed on process exit, stop() or timeout.
// A virtio-fs share's virtiofsd starts before QEMU and is ended and reaped before `exited`
// resolves, however the VM ended.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveAccel } from './accel';
import type { Accel, BootOptions } from './boot-options';
import { ConsoleLines } from './console-log';
import { guardedCommand } from './guarded-command';
import { hostTscKhz } from './host-tsc';
import { qemuArgs, type ResolvedBoot } from './qemu-args';
import { QmpMonitor } from './qmp';
import { startVirtiofsd, type VirtiofsdDaemon, type VirtiofsdExit } from './virtiofsd-daemon';
import { virtiofsdCommand } from '../virtiofsd/provision';

export interface VmExit {
  /** QEMU's exit code (0 after a guest power-off, or a reboot/panic with -no-reboot). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The console showed a kernel panic. */
  panicked: boolean;
  /**
   * How the guest kernel said it ended: power-off (QEMU exits by itself via ACPI), restart
   * (QEMU exits because of -no-reboot), halt (no way to power off, e.g. microvm without ACPI:
   * we end QEMU for it). Read from the kernel's last console line, which an hvc console (torn
   * down first) does not show: then QEMU's own exit code 0 is the sign of a clean end.
   */
  shutdown?: 'power-off' | 'restart' | 'halt';
  /** We killed QEMU because timeoutMs passed. */
  timedOut: boolean;
  /** Killed by stop(). */
  stopped: boolean;
  /** The status the guest printed (exitStatusPattern), if it did. */
  guestStatus?: number;
  /** Wall time from spawn to exit. */
  wallMs: number;
  /** How virtiofsd ended (BootOptions.virtioFs): it is gone by the time `exited` resolves. */
  virtiofsd?: VirtiofsdExit;
}

export interface VmHandle {
  pid: number;
  accel: Accel;
  machine: 'microvm' | 'q35';
  /** The full QEMU command, for logs and reproducing by hand. */
  command: string[];
  /** virtiofsd's pid and full command, when BootOptions.virtioFs is set. */
  virtiofsd?: { pid: number; command: string[]; socketPath: string; log(): string };
  /** Console lines so far (grows while the guest runs). */
  consoleLines: string[];
  waitForConsole(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Unix socket of the virtio-serial agent port (hosts without vhost-vsock). */
  agentSocketPath?: string;
  /** Guest CID when the agent channel is vsock. */
  vsockCid?: number;
  /** Text to the guest console (serial/hvc input). */
  writeConsole(text: string): void;
  /**
   * Runs a QMP command (e.g. query-hotpluggable-cpus, device_add) and resolves with its
   * "return" value. Needs BootOptions.qmp; rejects otherwise.
   */
  qmp<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** The QMP session itself (events), when BootOptions.qmp is set. */
  monitor?: QmpMonitor;
  exited: Promise<VmExit>;
  /** Kills QEMU (SIGTERM, then SIGKILL) and resolves once it is gone. */
  stop(): Promise<VmExit>;
}

const DEFAULT_EXIT_STATUS = /KATA_GUEST_EXIT_STATUS=(\d+)/;
const PANIC = /Kernel panic - not syncing/;
// The kernel's last words (kernel/reboot.c) for each way of ending.
const SHUTDOWN_LINES: ReadonlyArray<[RegExp, NonNullable<VmExit['shutdown']>]> = [
  [/reboot: Power down/, 'power-off'],
  [/reboot: Restarting system/, 'restart'],
  [/reboot: System halted/, 'halt'],
];

/** How long virtiofsd gets to end by itself after QEMU (its frontend) is gone. */
const VIRTIOFSD_GRACE_MS = 2000;
/** What a boot puts in its socket directory. */
const BOOT_SOCKETS = ['agent.sock', 'qmp.sock', 'virtiofs.sock'];

const liveVms = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveVms) child.kill('SIGKILL');
  });
}

function chooseChannel(opts: BootOptions, socketDir: string): ResolvedBoot['channel'] {
  const want = opts.agentChannel ?? 'auto';
  if (want === 'none') return { kind: 'none' };
  if (want === 'vsock' || (want === 'auto' && existsSync('/dev/vhost-vsock'))) {
    return { kind: 'vsock', cid: opts.guestCid ?? 3 };
  }
  return { kind: 'serial', socketPath: join(socketDir, 'agent.sock') };
}

export async function bootVm(opts: BootOptions): Promise<VmHandle> {
  const qemu = opts.qemuBinary ?? 'qemu-system-x86_64';
  if (!existsSync(opts.kernel)) throw new Error(`boot VM: kernel ${opts.kernel} not found`);
  const media = opts.media;
  const mediaPath = media.kind === 'initrd' ? media.initrd : media.image;
  let imageBytes: number | undefined;
  try {
    imageBytes = (await stat(mediaPath)).size;
  } catch (err) {
    throw new Error(`boot VM: ${media.kind} ${mediaPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const nvdimm = media.kind === 'image' && media.attach === 'nvdimm';
  const machine = opts.machine ?? 'q35';
  if (nvdimm && machine !== 'q35') throw new Error('boot VM: nvdimm needs the q35 machine (ACPI NFIT)');

  const accel = opts.accel === 'kvm' || opts.accel === 'tcg' ? opts.accel : await resolveAccel(opts.kernel, qemu);
  const socketDir = opts.socketDir ?? (await mkdtemp(join(tmpdir(), 'kata-vm-')));
  if (opts.socketDir) await mkdir(opts.socketDir, { recursive: true, mode: 0o700 });
  const cleanSocketDir = (): Promise<unknown> =>
    opts.socketDir
      ? Promise.all(BOOT_SOCKETS.map((name) => rm(join(socketDir, name), { force: true })))
      : rm(socketDir, { recursive: true, force: true });
  // Sockets a previous boot in the same directory left would make binding them fail.
  if (opts.socketDir) await cleanSocketDir();
  const channel = chooseChannel(opts, socketDir);
  const virtioFsSocketPath = opts.virtioFs ? join(socketDir, 'virtiofs.sock') : undefined;
  let args: string[];
  let monitor: QmpMonitor | undefined;
  let virtiofsd: VirtiofsdDaemon | undefined;
  try {
    args = qemuArgs({
      opts, accel, machine, channel, imageBytes,
      qmpSocketPath: opts.qmp ? join(socketDir, 'qmp.sock') : undefined,
      hostTscKhz: machine === 'microvm' && accel === 'tcg' ? await hostTscKhz() : undefined,
      virtioFsSocketPath,
    });
    monitor = opts.qmp ? await QmpMonitor.listen(join(socketDir, 'qmp.sock')) : undefined;
    if (opts.virtioFs) {
      // QEMU connects to the socket at start and fails if nobody listens: virtiofsd first.
      virtiofsd = await startVirtiofsd({ virtiofsd: opts.virtioFs.virtiofsd ?? (await virtiofsdCommand()), share: opts.virtioFs, socketPath: virtioFsSocketPath!, spawnPrefix: opts.spawnPrefix });
    }
  } catch (err) {
    monitor?.close();
    await cleanSocketDir();
    throw err;
  }
  const command = guardedCommand([qemu, ...args], opts.spawnPrefix);

  const started = Date.now();
  const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  liveVms.add(child);
  killAllOnExit();
  const consoleLog = new ConsoleLines(opts.consoleLog, opts.echoConsole);
  const stderr: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => consoleLog.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  child.stdin!.on('error', () => {}); // QEMU gone: console input is moot.
  // A halted guest leaves QEMU running with nothing more to do: end it.
  void consoleLog.waitFor(/reboot: System halted/, 2 ** 31 - 1).then(
    () => child.kill('SIGKILL'),
    () => {},
  );

  let timedOut = false;
  let stopped = false;
  let setupError: Error | undefined;
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, opts.timeoutMs)
    : undefined;

  const exited = new Promise<VmExit>((resolve, reject) => {
    child.on('error', (err) => {
      liveVms.delete(child);
      monitor?.close();
      void (virtiofsd?.stop() ?? Promise.resolve()).then(() => reject(new Error(`boot VM: start ${qemu}: ${err.message}`)));
    });
    child.on('close', (code, signal) => {
      liveVms.delete(child);
      if (timer) clearTimeout(timer);
      // QEMU refusing its arguments is a setup error, not a guest result: say what QEMU said.
      // Decided before the console closes, so console waiters already see it.
      if (code !== 0 && consoleLog.lines.length === 0 && !timedOut && !stopped && stderr.length > 0) {
        setupError = new Error(`boot VM: ${qemu} exited with ${code}: ${stderr.join('').trim()}`);
      }
      void (async () => {
        await consoleLog.close();
        monitor?.close();
        // Once QEMU is gone virtiofsd sees its frontend leave and ends by itself; stop() gives
        // it a moment to, then makes sure, and waits until it is reaped.
        const virtiofsdExit = await virtiofsd?.stop(VIRTIOFSD_GRACE_MS);
        if (virtiofsd && setupError) {
          setupError = new Error(`${setupError.message}\nvirtiofsd said: ${virtiofsd.log().trim()}`);
        }
        await cleanSocketDir();
        const status = consoleLog.find(opts.exitStatusPattern ?? DEFAULT_EXIT_STATUS);
        const exit: VmExit = {
          code,
          signal,
          panicked: consoleLog.find(PANIC) !== undefined,
          timedOut,
          stopped,
          wallMs: Date.now() - started,
        };
        if (virtiofsdExit) exit.virtiofsd = virtiofsdExit;
        if (status?.[1] !== undefined) exit.guestStatus = Number.parseInt(status[1], 10);
        const shutdown = SHUTDOWN_LINES.find(([pattern]) => consoleLog.find(pattern) !== undefined);
        if (shutdown && !exit.panicked) exit.shutdown = shutdown[1];
        if (setupError) reject(setupError);
        else resolve(exit);
      })();
    });
  });
  // Callers that only use waitForConsole must not get an unhandled rejection from `exited`.
  exited.catch(() => {});

  const stop = async (): Promise<VmExit> => {
    if (child.exitCode === null && child.signalCode === null) {
      stopped = true;
      child.kill('SIGTERM');
      const escalate = setTimeout(() => child.kill('SIGKILL'), 3000);
      try {
        return await exited;
      } finally {
        clearTimeout(escalate);
      }
    }
    return exited;
  };

  return {
    pid: child.pid ?? -1,
    accel,
    machine,
    command,
    virtiofsd: virtiofsd && { pid: virtiofsd.pid, command: virtiofsd.command, socketPath: virtiofsd.socketPath, log: virtiofsd.log },
    consoleLines: consoleLog.lines,
    waitForConsole: async (pattern, timeoutMs) => {
      try {
        return await consoleLog.waitFor(pattern, timeoutMs);
      } catch (err) {
        // QEMU may have refused to start: that message is more useful than "not seen".
        throw setupError ?? err;
      }
    },
    agentSocketPath: channel.kind === 'serial' ? channel.socketPath : undefined,
    vsockCid: channel.kind === 'vsock' ? channel.cid : undefined,
    writeConsole: (text) => {
      child.stdin!.write(text);
    },
    qmp: async <T>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T> => {
      if (!monitor) throw new Error(`QMP ${command}: the VM was booted without a monitor (BootOptions.qmp)`);
      return monitor.execute<T>(command, args, timeoutMs);
    },
    monitor,
    exited,
    stop,
  };
}

