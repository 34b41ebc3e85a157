// Every container of the pod and what the Kata API does with them. State is per container;
// the only shared structure is the id -> container map, never held across an await.
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger';
import { setWindowSize } from '../native/terminal';
import { containerStateDir, sharedRootfs } from '../paths';
import type { CreateContainerRequest, LinuxResources, Process, Spec, StatsContainerResponseInit } from '../proto/messages.generated';
import { messageType } from '../proto/schema';
import type { SandboxLookup } from '../sandbox/lifecycle';
import type { Sandbox } from '../sandbox/sandbox';
import { withShareRootfs } from '../sandbox/shared-fs';
import { abortedBy } from '../storage/call-deadline';
import { GuestPathConfinement } from '../storage/confinement';
import type { StorageManagerApi } from '../storage/types';
import { Code, RpcError } from '../ttrpc/status';
import { Container } from './container';
import { applyGuestDevices, resolveDevices } from './devices';
import { launchExec, launchInit } from './launch';
import { EndOfOutput } from './output-stream';
import { messageToOciJson, type OciJson, resourcesToOciJson, specToOciJson, stringifyOciJson } from './oci-json';
import type { OomEvents } from './oom-events';
import type { ContainerProcess } from './process';
import { ociDelete } from './runtime/delete';
import { ociKill } from './runtime/kill';
import type { OciRuntime } from './runtime/oci-runtime';
import { ociPause, ociResume } from './runtime/pause';
import { ociStart } from './runtime/start';
import { ociUpdate } from './runtime/update';
import { effectiveSignal, SIGKILL } from './signal';
import { clampRlimits, rlimitCeilings } from './rlimits';
import { explainSeccompFailure } from './seccomp-profile';
import { rewriteSpec } from './spec-rewrite';
import { cgroupStats, networkStats } from './stats';


/** Largest ReadStdout/ReadStderr reply: well under ttRPC's 4 MiB message limit. */
export const MAX_READ = 2 * 1024 * 1024;

export interface ContainerManagerOptions {
  runtime: OciRuntime;
  storage: StorageManagerApi;
  log: Logger;
  /** The pod's sandbox, once CreateSandbox has run (sandbox/lifecycle.ts). */
  sandbox: SandboxLookup;
  /** How long crun may take to hand over a terminal (agent.launch_process_timeout). */
  launchTimeoutMs: number;
  /** agent.container_pipe_size: capacity of each stdio pipe (0 = the kernel's default). */
  pipeSize?: number;
  /** How long to wait for a container's devices to appear (agent.hotplug_timeout). */
  hotplugTimeoutMs?: number;
  /** Where device nodes and sysfs are (default /dev, /sys; tests point them elsewhere). */
  devRoot?: string;
  sysRoot?: string;
  /** Where the cgroup v2 tree is mounted (stats, OOM events). */
  cgroupRoot: string;
  /** Makes the cgroup tree ready for crun (as PID 1: enables controllers); idempotent. */
  prepareCgroups?: () => void;
  oom: OomEvents;
  /** Apply the spec's seccomp profile (default true); see SpecRewriteContext.applySeccomp. */
  guestSeccomp?: boolean;
  /** agent.shared_fs_tag: container rootfs come from that share (sandbox/shared-fs.ts). */
  sharedFsTag?: string;
  /** Which guest paths the spec's bind mounts may come from (default: Kata's roots, storage/confinement.ts). */
  confinement?: GuestPathConfinement;
}

function notFound(what: string): RpcError {
  return new RpcError(Code.NOT_FOUND, what);
}

export class ContainerManager {
  readonly containers = new Map<string, Container>();
  /** Ids whose CreateContainer is in progress. */
  readonly #creating = new Set<string>();
  readonly #log: Logger;
  readonly #confinement: GuestPathConfinement;
  // Read on the first container, not at agent start.
  #rlimitCeilings: Map<string, bigint> | undefined | null = null;

  constructor(private readonly o: ContainerManagerOptions) {
    this.#log = o.log.child({ subsystem: 'container' });
    this.#confinement = o.confinement ?? new GuestPathConfinement();
  }

  #clampRlimits(processJson: OciJson | undefined, what: string): void {
    if (this.#rlimitCeilings === null) this.#rlimitCeilings = rlimitCeilings();
    const changed = clampRlimits(processJson, this.#rlimitCeilings);
    if (changed.length > 0) this.#log.warn('rlimits lowered to what the agent may grant (no CAP_SYS_RESOURCE)', { what, rlimits: changed });
  }

  get(id: string): Container {
    const c = this.containers.get(id);
    if (!c || c.removed) throw notFound(`container ${id} not found`);
    return c;
  }

  process(id: string, execId: string): { container: Container; proc: ContainerProcess } {
    const container = this.get(id);
    const proc = container.process(execId);
    if (!proc) throw notFound(`process ${execId} of container ${id} not found`);
    return { container, proc };
  }

  /** `signal` (the call's deadline) bounds the storage mounts. */
  async create(req: CreateContainerRequest, signal?: AbortSignal): Promise<void> {
    const id = req.container_id;
    if (this.containers.has(id) || this.#creating.has(id)) throw new RpcError(Code.ALREADY_EXISTS, `container ${id} already exists`);
    const sandbox = this.o.sandbox.current();
    if (!sandbox) throw new RpcError(Code.FAILED_PRECONDITION, `create container ${id}: no sandbox (CreateSandbox first)`);
    const oci = req.OCI;
    if (!oci) throw new RpcError(Code.INVALID_ARGUMENT, `create container ${id}: the request has no OCI spec`);
    this.#creating.add(id);
    try {
      this.o.prepareCgroups?.();
      await this.#create(id, req, oci, sandbox, signal);
    } catch (err) {
      // What a stalled step held back has returned: nothing of it is left.
      if (signal?.aborted) this.#log.info('create container given up by its call: undone', { container: id, error: err });
      throw err;
    } finally {
      this.#creating.delete(id);
    }
  }

  async #create(id: string, req: CreateContainerRequest, oci: Spec, sandbox: Sandbox, signal: AbortSignal | undefined): Promise<void> {
    let spec: OciJson;
    try {
      spec = specToOciJson(oci);
    } catch (err) {
      throw new RpcError(Code.INVALID_ARGUMENT, `create container ${id}: bad OCI spec: ${(err as Error).message}`);
    }
    if (!spec.process?.args?.length) throw new RpcError(Code.INVALID_ARGUMENT, `create container ${id}: bad OCI spec: process.args is empty`);
    let rootfs: string = spec.root?.path || sharedRootfs(id);
    if (!path.isAbsolute(rootfs)) throw new RpcError(Code.INVALID_ARGUMENT, `create container ${id}: bad OCI spec: root.path ${rootfs} is not absolute`);
    // The host's binds and rootfs, checked before any storage is mounted (the agent's own binds,
    // added by rewriteSpec, come from the sandbox directory).
    await this.#confinement.checkContainerMounts(spec.mounts, `create container ${id}`);
    rootfs = await this.#confinement.checkPath('container rootfs', rootfs, `create container ${id}: root.path`);
    // Steps not bounded by the call's signal (path lookups on the share, stat, crun) may return
    // long after the call's deadline, its caller long gone: past each, the create goes no further.
    const stopIfGivenUp = (): void => {
      if (signal?.aborted) throw abortedBy(`create container ${id}`, signal.reason);
    };
    stopIfGivenUp();
    const sharePid = Boolean(req.sandbox_pidns);
    const stateDir = containerStateDir(id);
    let storagesTaken = false;
    try {
      const storages = withShareRootfs(req.storages, id, rootfs, this.o.sharedFsTag);
      if (storages.length > 0) {
        storagesTaken = true;
        await this.o.storage.add(id, storages, signal);
      }
      const devices = req.devices;
      if (devices.length > 0) {
        const wait = { sysRoot: this.o.sysRoot ?? '/sys', devRoot: this.o.devRoot ?? '/dev', timeoutMs: this.o.hotplugTimeoutMs ?? 3000 };
        applyGuestDevices(spec, await resolveDevices(devices, wait));
      }
      const rootStat = await stat(rootfs).catch(() => undefined);
      if (!rootStat?.isDirectory()) throw notFound(`create container ${id}: rootfs ${rootfs} does not exist`);
      stopIfGivenUp();
      const namespaces = sandbox.namespacesFor(sharePid);
      const guestSpec = rewriteSpec(spec, {
        containerId: id,
        rootfs,
        namespaces,
        sandboxShm: sandbox.shm,
        resolvConf: sandbox.resolvConf,
        applySeccomp: this.o.guestSeccomp !== false,
        guestHooks: sandbox.hooks,
      });
      this.#clampRlimits(guestSpec.process, `container ${id}`);
      await rm(stateDir, { recursive: true, force: true });
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      await writeFile(`${stateDir}/config.json`, stringifyOciJson(guestSpec));
      const init = await launchInit({
        runtime: this.o.runtime,
        containerId: id,
        execId: id,
        terminal: Boolean(guestSpec.process?.terminal),
        stateDir,
        bundle: stateDir,
        timeoutMs: this.o.launchTimeoutMs,
        pipeSize: this.o.pipeSize ?? 0,
      }).catch((err: unknown) => {
        throw explainSeccompFailure(err, guestSpec);
      });
      stopIfGivenUp(); // crun delete --force below ends the init
      sandbox.noteContainerInit(init.pid, sharePid);
      const container = new Container(id, stateDir, guestSpec, init, namespaces.pid === undefined);
      this.containers.set(id, container);
      void this.o.oom.watchContainer(id, container.cgroupsPath);
      this.#log.info('container created', { container: id, pid: init.pid });
    } catch (err) {
      // Also when crun create failed: it may have left state (and a waiting init) behind.
      await ociDelete(this.o.runtime, id).catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
      if (storagesTaken) await this.o.storage.release(id).catch((e: unknown) => this.#log.warn('release storages after a failed create', { container: id, error: e }));
      throw err;
    }
  }

  async start(id: string): Promise<void> {
    const c = this.get(id);
    await c.lock.exclusive(async () => {
      if (c.removed) throw notFound(`container ${id} not found`);
      if (c.status !== 'created') throw new RpcError(Code.FAILED_PRECONDITION, `start container ${id}: it is ${c.status}, not created`);
      await ociStart(this.o.runtime, id, { poststartHooks: (c.spec.hooks?.poststart?.length ?? 0) > 0 });
      c.status = 'running';
    });
  }

  async exec(id: string, execId: string, processSpec: Process | null): Promise<void> {
    const c = this.get(id);
    if (execId === id || c.execs.has(execId) || c.pendingExecs.has(execId)) {
      throw new RpcError(Code.ALREADY_EXISTS, `exec ${execId} of container ${id} already exists`);
    }
    if (!processSpec) throw new RpcError(Code.INVALID_ARGUMENT, `exec ${execId} in container ${id}: the request has no process`);
    c.pendingExecs.add(execId);
    try {
      await c.lock.shared(async () => {
        if (c.removed) throw notFound(`container ${id} not found`);
        if (c.status !== 'running') throw new RpcError(Code.FAILED_PRECONDITION, `exec ${execId} in container ${id}: the container is ${c.status}`);
        let json: OciJson;
        try {
          json = messageToOciJson(messageType('grpc.Process'), processSpec);
        } catch (err) {
          throw new RpcError(Code.INVALID_ARGUMENT, `exec ${execId} in container ${id}: bad process: ${(err as Error).message}`);
        }
        if (!json.args?.length) throw new RpcError(Code.INVALID_ARGUMENT, `exec ${execId} in container ${id}: process.args is empty`);
        json.cwd ||= '/';
        this.#clampRlimits(json, `exec ${execId} in container ${id}`);
        json.user ??= {};
        const processFile = `${c.stateDir}/exec-${execId}.json`;
        await writeFile(processFile, stringifyOciJson(json));
        try {
          const proc = await launchExec({
            runtime: this.o.runtime,
            containerId: id,
            execId,
            terminal: Boolean(json.terminal),
            stateDir: c.stateDir,
            processFile,
            timeoutMs: this.o.launchTimeoutMs,
            pipeSize: this.o.pipeSize ?? 0,
          }).catch((err: unknown) => {
            // crun exec loads the container's profile for the new process too
            throw explainSeccompFailure(err, { linux: c.spec.linux, process: json });
          });
          c.execs.set(execId, proc);
        } finally {
          await rm(processFile, { force: true });
        }
      });
    } finally {
      c.pendingExecs.delete(execId);
    }
  }

  async signal(id: string, execId: string, signal: number): Promise<void> {
    const { container: c, proc } = this.process(id, execId);
    // Linux signals are 1..64 (SIGRTMAX); 0 only probes, and the runtime never sends it.
    if (!Number.isInteger(signal) || signal < 1 || signal > 64) {
      throw new RpcError(Code.INVALID_ARGUMENT, `signal process ${execId || id} in container ${id}: ${signal} is not a signal number (1-64)`);
    }
    if (!proc.running) return; // already exited: ESRCH is not an error
    if (proc === c.init) {
      const sig = await effectiveSignal(signal, proc.pid, c.ownsPidNamespace);
      if (execId === '' && sig === SIGKILL) return this.#killAll(c);
      proc.signal(sig);
      return;
    }
    proc.signal(signal);
  }

  /** Every process of the container: through crun's cgroup walk, else each process we know. */
  async #killAll(c: Container): Promise<void> {
    try {
      await ociKill(this.o.runtime, c.id, SIGKILL, true);
    } catch (err) {
      this.#log.debug('crun kill --all failed; signalling known processes', { container: c.id, error: err });
    }
    for (const p of c.allProcesses()) p.signal(SIGKILL);
  }

  async wait(id: string, execId: string): Promise<number> {
    const { container: c, proc } = this.process(id, execId);
    const status = await proc.exited;
    if (proc !== c.init) {
      proc.waited = true;
      this.#forgetIfDone(c, proc);
    }
    return status;
  }

  /** An exec is forgotten once its status was collected and its output read to the end. */
  #forgetIfDone(c: Container, proc: ContainerProcess): void {
    if (proc === c.init || !proc.waited || !proc.drained) return;
    if (c.execs.get(proc.execId) === proc) c.execs.delete(proc.execId);
    proc.closeIo();
  }

  /** Output of a process, up to `len` bytes; rejects with EndOfOutput once all was read. */
  async read(id: string, execId: string, which: 'stdout' | 'stderr', len: number): Promise<Buffer> {
    const { container: c, proc } = this.process(id, execId);
    const what = `${which} of process ${execId || id} in container ${id}`;
    const stream = which === 'stdout' ? proc.io.stdout : proc.io.stderr;
    if (!stream) throw new EndOfOutput(`${what} (a terminal has no separate stderr)`);
    try {
      return await stream.read(Math.min(len > 0 ? len : MAX_READ, MAX_READ), what);
    } catch (err) {
      if (err instanceof EndOfOutput) this.#forgetIfDone(c, proc);
      throw err;
    }
  }

  async write(id: string, execId: string, data: Buffer): Promise<number> {
    const { proc } = this.process(id, execId);
    if (!proc.io.stdin) throw new RpcError(Code.FAILED_PRECONDITION, `write stdin of ${execId || id} in ${id}: no stdin`);
    try {
      return await proc.io.stdin.write(data, `process ${execId || id} of container ${id}`);
    } catch (err) {
      throw new RpcError(Code.FAILED_PRECONDITION, (err as Error).message);
    }
  }

  closeStdin(id: string, execId: string): void {
    this.process(id, execId).proc.io.stdin?.close();
  }

  resizeTty(id: string, execId: string, rows: number, cols: number): void {
    const { proc } = this.process(id, execId);
    if (!proc.io.pty) throw new RpcError(Code.FAILED_PRECONDITION, `resize the terminal of ${execId || id} in ${id}: it has no terminal`);
    if (!proc.running) return;
    setWindowSize(proc.io.pty.fd, { rows, cols });
  }

  async pause(id: string): Promise<void> {
    const c = this.get(id);
    await c.lock.exclusive(async () => {
      if (c.status !== 'running') throw new RpcError(Code.FAILED_PRECONDITION, `pause container ${id}: it is ${c.status}`);
      await ociPause(this.o.runtime, id);
      c.status = 'paused';
    });
  }

  async resume(id: string): Promise<void> {
    const c = this.get(id);
    await c.lock.exclusive(async () => {
      if (c.status !== 'paused') throw new RpcError(Code.FAILED_PRECONDITION, `resume container ${id}: it is ${c.status}, not paused`);
      await ociResume(this.o.runtime, id);
      c.status = 'running';
    });
  }

  async update(id: string, resources: LinuxResources | null): Promise<void> {
    const c = this.get(id);
    if (!resources) return;
    await c.lock.exclusive(async () => {
      if (c.status === 'stopped') throw new RpcError(Code.FAILED_PRECONDITION, `update container ${id}: it is stopped`);
      const file = `${c.stateDir}/resources.json`;
      await writeFile(file, stringifyOciJson(resourcesToOciJson(resources)));
      try {
        await ociUpdate(this.o.runtime, id, file);
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  async stats(id: string): Promise<StatsContainerResponseInit> {
    const c = this.get(id);
    const [cgroup, network] = await Promise.all([cgroupStats(this.o.cgroupRoot, c.cgroupsPath), networkStats()]);
    return { cgroup_stats: cgroup, network_stats: network };
  }

  /**
   * Kills what runs, waits up to `timeoutSec` (0 = no limit) for it to exit, then removes
   * crun's state, the container's storages and its state dir.
   */
  async remove(id: string, timeoutSec: number): Promise<void> {
    const c = this.get(id);
    await c.lock.exclusive(async () => {
      if (c.removed) throw notFound(`container ${id} not found`);
      const running = c.allProcesses().filter((p) => p.running);
      if (running.length > 0) {
        await this.#killAll(c);
        const exits = Promise.all(running.map((p) => p.exited));
        if (timeoutSec > 0) {
          let timer: NodeJS.Timeout | undefined;
          const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutSec * 1000)));
          const result = await Promise.race([exits, timedOut]);
          clearTimeout(timer);
          if (result === 'timeout') throw new RpcError(Code.DEADLINE_EXCEEDED, `remove container ${id}: its processes did not exit within ${timeoutSec} s`);
        } else {
          await exits;
        }
      }
      await ociDelete(this.o.runtime, id).catch((err: unknown) => this.#log.warn('crun delete failed', { container: id, error: err }));
      for (const p of c.allProcesses()) p.closeIo();
      c.removed = true;
      this.containers.delete(id);
      this.o.oom.unwatchContainer(id);
      await this.o.storage.release(id);
      await rm(c.stateDir, { recursive: true, force: true });
      this.#log.info('container removed', { container: id });
    });
  }

  /** DestroySandbox: every container goes, whatever state it is in (bounded: the VM powers off next). */
  async removeAll(timeoutSec = 30): Promise<void> {
    const results = await Promise.allSettled([...this.containers.keys()].map((id) => this.remove(id, timeoutSec)));
    for (const r of results) if (r.status === 'rejected') this.#log.warn('remove container during sandbox destroy', { error: r.reason });
  }
}
