// The host side of a real Kata pod, for the end-to-end tests: a syslog socket (the shim refuses to
// start without one), Debian's containerd with its own root, state and socket, our
// remote-hypervisor service (VMs of our kernel and image) and a Kata configuration of the remote
// type that points the shim at it. Kata's shim itself comes from KATA_SHIM.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { kataConfigToml } from '../../image-builder/src/kata-config/kata-config';
import { serveRemoteHypervisor, type RunningService } from '../../image-builder/src/remote-hypervisor/server';
import { RemoteHypervisor } from '../../image-builder/src/remote-hypervisor/service';
import { busyboxImageArchive } from './busybox-image';

const run = promisify(execFile);
export const IMAGE = 'docker.io/library/kata-e2e-busybox:latest';

/** The shims to test, from KATA_SHIM (paths separated by ':' or ','). */
export function kataShims(): string[] {
  return (process.env.KATA_SHIM ?? '').split(/[:,]/).map((s) => s.trim()).filter(Boolean);
}

/** Why the suite cannot run here, if it cannot. */
export function kataStackMissingReason(): string | undefined {
  const shims = kataShims();
  if (shims.length === 0) return 'KATA_SHIM is not set: give the path of containerd-shim-kata-v2 (several separated by ":") to run Kata\'s own shim against our image';
  for (const s of shims) if (!existsSync(s)) return `KATA_SHIM names ${s}, which does not exist`;
  for (const tool of ['containerd', 'ctr', 'busybox', 'nsenter', 'logger', 'qemu-system-x86_64']) {
    if (!['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some((d) => existsSync(path.join(d, tool)))) return `${tool} is not installed (scripts/apt-packages/kata-e2e.txt lists what the suite needs)`;
  }
  return undefined;
}

async function waitForPath(p: string, what: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(p)) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before creating ${p}`);
    if (Date.now() > deadline) throw new Error(`${what} did not create ${p} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether /dev/log takes a message, tried the way Go's log/syslog does (datagram, then stream). */
async function syslogAnswers(): Promise<boolean> {
  if (!existsSync('/dev/log')) return false;
  try {
    await run('logger', ['--socket-errors=on', '-u', '/dev/log', '-t', 'kata-e2e', 'probe']);
    return true;
  } catch {
    return false;
  }
}

export interface CtrResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

interface CtrCall {
  args: string;
  startedAt: number;
  ms?: number;
  code?: number;
}

export interface CtrOptions {
  input?: Buffer | string;
  timeoutMs?: number;
  /** Called with all of stdout so far, each time more arrives. */
  onStdout?: (soFar: string) => void;
}

export class KataStack {
  readonly ctdSocket: string;
  readonly rhSocket: string;
  readonly configPath: string;
  readonly syslogFile: string;
  readonly qemuConfigPath: string;
  readonly service: RemoteHypervisor;
  #children: ChildProcess[] = [];
  #running: RunningService | undefined;
  #ownSyslog = false;
  #calls: CtrCall[] = [];

  private constructor(readonly dir: string, readonly kernel: string, readonly image: string) {
    this.ctdSocket = path.join(dir, 'containerd.sock');
    this.rhSocket = path.join(dir, 'remote-hypervisor.sock');
    this.configPath = path.join(dir, 'configuration-remote.toml');
    this.syslogFile = path.join(dir, 'syslog.log');
    this.qemuConfigPath = path.join(dir, 'configuration-qemu.toml');
    this.service = new RemoteHypervisor({
      kernel,
      image,
      memoryMiB: 1024,
      cpus: 1,
      agentLogLevel: 'debug',
      extraCmdline: [],
      stateDir: path.join(dir, 'vms'),
      startTimeoutMs: 120_000,
    });
  }

  static async start(kernel: string, image: string): Promise<KataStack> {
    const dir = await mkdtemp(path.join(tmpdir(), 'kata-e2e-'));
    const stack = new KataStack(dir, kernel, image);
    try {
      await stack.#start();
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  async #start(): Promise<void> {
    // The shim logs to syslog and will not start without a /dev/log that answers ("Unix syslog
    // delivery error"). A socket nothing listens on (a syslog daemon that died, a copied image)
    // counts as none: it is replaced by ours.
    if (!(await syslogAnswers())) {
      await rm('/dev/log', { force: true });
      const syslogd = spawn('busybox', ['syslogd', '-n', '-O', this.syslogFile], { stdio: 'ignore' });
      this.#children.push(syslogd);
      this.#ownSyslog = true;
      await waitForPath('/dev/log', 'syslogd', syslogd, 10_000);
    }
    const config = [
      'version = 2',
      `root = ${JSON.stringify(path.join(this.dir, 'root'))}`,
      `state = ${JSON.stringify(path.join(this.dir, 'state'))}`,
      // No CRI here: ctr drives containerd directly.
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = ${JSON.stringify(this.ctdSocket)}`,
      '[debug]',
      '  level = "debug"',
    ].join('\n');
    writeFileSync(path.join(this.dir, 'containerd.toml'), `${config}\n`);
    const containerd = spawn('containerd', ['--config', path.join(this.dir, 'containerd.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const log: string[] = [];
    containerd.stderr!.on('data', (c: Buffer) => log.push(c.toString()));
    this.#children.push(containerd);
    await waitForPath(this.ctdSocket, 'containerd', containerd, 30_000);

    this.#running = await serveRemoteHypervisor(this.service, this.rhSocket);
    writeFileSync(this.configPath, kataConfigToml({ variant: 'remote', socket: this.rhSocket, timeoutSeconds: 120, debug: true }));
    this.writeQemuConfig({}, this.qemuConfigPath);
    const archive = path.join(this.dir, 'busybox.tar');
    writeFileSync(archive, await busyboxImageArchive(IMAGE));
    await run('ctr', ['--address', this.ctdSocket, 'image', 'import', archive]);
  }

  /** A configuration of Kata's QEMU driver for our kernel and image (or others given); its path. */
  writeQemuConfig(over: { image?: string }, file = path.join(this.dir, `configuration-qemu-${Date.now()}.toml`)): string {
    writeFileSync(file, kataConfigToml({ variant: 'qemu', kernel: this.kernel, image: over.image ?? this.image, qemu: '/usr/bin/qemu-system-x86_64', virtiofsd: '/usr/libexec/virtiofsd' }));
    return file;
  }

  /** A file on the host for a container to bind-mount; its path. */
  writeHostFile(name: string, text: string): string {
    const file = path.join(this.dir, 'host-files', name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  }

  /** ctr with our containerd; never rejects: the exit code is part of the result. */
  ctr(args: string[], opts: CtrOptions = {}): Promise<CtrResult> {
    const call: CtrCall = { args: args.join(' '), startedAt: Date.now() };
    this.#calls.push(call);
    if (this.#calls.length > 200) this.#calls.shift();
    return new Promise((resolve) => {
      const child = spawn('ctr', ['--address', this.ctdSocket, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (c: Buffer) => {
        out.push(c);
        opts.onStdout?.(Buffer.concat(out).toString());
      });
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.stdin.on('error', () => undefined);
      // ctr's stdin is never ended: at EOF ctr calls CloseIO, and one that reaches the shim before
      // the process's Start deadlocks the shim (its CloseIO waits, holding the shim's lock, for a
      // stdin copy that only Start begins; seen in runtime-go 3.19.1 and 3.27.0), after which
      // every call on the pod hangs. The pipe goes when ctr exits.
      if (opts.input !== undefined) child.stdin.write(opts.input);
      const timeoutMs = opts.timeoutMs ?? 120_000;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        child.stdin.destroy();
        // Which step hung is the first thing a failure has to say.
        if (timedOut) err += `\n(ctr ${args.slice(0, 3).join(' ')} killed: no end within ${timeoutMs} ms)`;
        call.ms = Date.now() - call.startedAt;
        call.code = code ?? -1;
        resolve({ code: code ?? (signal === 'SIGKILL' ? -9 : -1), stdout: Buffer.concat(out), stderr: err });
      });
    });
  }

  /** ctr run of our busybox image in a new pod with the given shim. */
  ctrRun(shim: string, id: string, command: string[], opts: CtrOptions & { flags?: string[] } = {}): Promise<CtrResult> {
    return this.ctr(['run', '--rm', '--runtime', shim, '--runtime-config-path', this.configPath, ...(opts.flags ?? []), IMAGE, id, ...command], opts);
  }

  /** The shim's log lines about a sandbox, and the guest's console, for a failure's message. */
  diagnostics(sandboxId: string): string {
    const shimLog = existsSync(this.syslogFile)
      ? readFileSync(this.syslogFile, 'utf8').split('\n').filter((l) => l.includes(`sandbox=${sandboxId}`)).slice(-40)
      : ['(the host has its own syslog: see the system log for the shim)'];
    const consolePath = this.service.consoleLogOf(sandboxId);
    const consoleText = existsSync(consolePath) ? readFileSync(consolePath, 'utf8').split('\n').slice(-40) : ['(no console log)'];
    const now = Date.now();
    const calls = this.#calls.filter((c) => c.args.includes(sandboxId)).slice(-12);
    const callLines = calls.map((c) => (c.ms === undefined ? `ctr ${c.args}: still running after ${now - c.startedAt} ms` : `ctr ${c.args}: exit ${c.code} after ${c.ms} ms`));
    return `\n--- ctr calls (sandbox ${sandboxId}) ---\n${callLines.join('\n')}\n--- shim log (sandbox ${sandboxId}) ---\n${shimLog.join('\n')}\n--- guest console ---\n${consoleText.join('\n')}`;
  }

  /** What is left of a sandbox on the host: VMs, shim processes, mounts, service state. */
  async leftovers(sandboxId: string): Promise<string[]> {
    const left: string[] = [];
    if (this.service.sandboxIds.includes(sandboxId)) left.push(`remote-hypervisor still has a VM for ${sandboxId}`);
    for (const pid of await readdir('/proc').then((e) => e.filter((n) => /^\d+$/.test(n)))) {
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        continue; // gone meanwhile
      }
      const vmOfSandbox = /qemu-system|virtiofsd/.test(cmdline) && cmdline.includes(path.join(this.dir, 'vms', sandboxId) + '/');
      const shimOfSandbox = cmdline.includes('containerd-shim-kata') && new RegExp(`-id ${sandboxId}(\\s|$)`).test(cmdline.trim());
      if (vmOfSandbox || shimOfSandbox) left.push(`process ${pid}: ${cmdline.trim()}`);
    }
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`/sandboxes/${sandboxId}/`) || l.includes(`/${sandboxId}/rootfs`));
    left.push(...mounts.map((m) => `mount: ${m}`));
    if (existsSync(path.join(this.dir, 'vms', sandboxId))) left.push(`state dir ${path.join(this.dir, 'vms', sandboxId)}`);
    return left;
  }

  /** Shims our containerd started that are still there (a case that failed half-way). */
  #strayShims(): number[] {
    const pids: number[] = [];
    for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (cmdline.some((a) => a.includes('containerd-shim-kata')) && cmdline.includes(this.ctdSocket)) pids.push(Number(pid));
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  }

  async stop(): Promise<void> {
    for (const pid of this.#strayShims()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await this.#running?.close();
    for (const child of this.#children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    if (this.#ownSyslog) await rm('/dev/log', { force: true });
    // containerd's root holds overlay snapshots; unmount anything left under it first.
    await run('sh', ['-c', `grep -o ' ${this.dir}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true }).catch(async () => {
      await mkdir(this.dir, { recursive: true });
    });
  }
}
