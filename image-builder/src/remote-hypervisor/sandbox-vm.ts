// One sandbox's VM for Kata's remote hypervisor type: our kernel and image under QEMU, the
// agent on a virtio-serial port whose host end is the unix socket the runtime dials, and the
// sandbox's share over virtio-fs with a real virtiofsd. QEMU and virtiofsd run inside the Kata
// shim's mount namespace: the shim bind-mounts each container's rootfs under the sandbox's
// share dir there, and those mounts exist in no other namespace.
import { readlinkSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AgentClient } from '../../../agent/client/agent-client';
import type { BootOptions } from '../qemu/boot-options';
import { bootVm, type VmExit, type VmHandle } from '../qemu/boot-vm';
import { RemoteHypervisorError } from './errors';

/** Kata's virtio-fs tag, and where runtime-go keeps a sandbox's share on the host. */
export const SHARED_FS_TAG = 'kataShared';
export const hostShareDir = (sandboxId: string): string => `/run/kata-containers/shared/sandboxes/${sandboxId}/shared`;
const AGENT_PORT = '/dev/virtio-ports/agent.channel.0';

// Annotations the runtime puts on CreateVM (virtcontainers/remote.go), those we act on.
const ANNOTATION = {
  image: 'io.katacontainers.config.hypervisor.image',
  memory: 'io.katacontainers.config.hypervisor.default_memory',
  vcpus: 'io.katacontainers.config.hypervisor.default_vcpus',
} as const;

export interface VmDefaults {
  kernel: string;
  /** Our rootfs image (Kata's layout), unless the runtime's config names another. */
  image: string;
  memoryMiB: number;
  cpus: number;
  /** agent.log in the guest. */
  agentLogLevel: string;
  /** More kernel command line (e.g. agent.debug_console). */
  extraCmdline: string[];
  /** Other boot options (accel, qemu binary); tests use them. */
  boot?: Partial<BootOptions>;
}

export interface SandboxVmSpec {
  id: string;
  annotations: Record<string, string>;
  /** The shim that asked for the VM (the peer of CreateVM), whose mount namespace the VM joins. */
  shimPid: number;
  /** Its sockets; removed when the VM stops. */
  stateDir: string;
  /** The guest's console, kept after the VM stops (to see why a pod failed). */
  consoleLog: string;
}

function positiveInt(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined || value === '' || value === '0') return fallback;
  if (!/^\d+$/.test(value)) throw new RemoteHypervisorError('invalid', `annotation ${what}=${value} is not a positive number`);
  return Number(value);
}

/** nsenter into `pid`'s mount namespace, or nothing when it is ours already. */
export function mountNamespacePrefix(pid: number): string[] {
  let theirs: string;
  try {
    theirs = readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch (err) {
    throw new RemoteHypervisorError('failed-precondition', `mount namespace of the shim (pid ${pid}): ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return theirs === readlinkSync('/proc/self/ns/mnt') ? [] : ['nsenter', `--mount=/proc/${pid}/ns/mnt`, '--'];
}

export class SandboxVm {
  readonly agentSocketPath: string;
  readonly consoleLog: string;
  #vm: VmHandle | undefined;
  #starting: Promise<void> | undefined;

  constructor(readonly spec: SandboxVmSpec, private readonly defaults: VmDefaults) {
    this.agentSocketPath = path.join(spec.stateDir, 'agent.sock');
    this.consoleLog = spec.consoleLog;
  }

  get running(): boolean {
    return this.#vm !== undefined;
  }

  /** The boot this VM gets; no side effects (tests read it). */
  bootOptions(): BootOptions {
    const { annotations } = this.spec;
    const d = this.defaults;
    return {
      ...d.boot,
      kernel: d.kernel,
      media: { kind: 'image', image: annotations[ANNOTATION.image] || d.image, attach: 'nvdimm' },
      machine: 'q35',
      memoryMiB: positiveInt(annotations[ANNOTATION.memory], d.memoryMiB, ANNOTATION.memory),
      cpus: positiveInt(annotations[ANNOTATION.vcpus], d.cpus, ANNOTATION.vcpus),
      agentChannel: 'serial',
      socketDir: this.spec.stateDir,
      virtioFs: { tag: SHARED_FS_TAG, sharedDir: hostShareDir(this.spec.id) },
      spawnPrefix: mountNamespacePrefix(this.spec.shimPid),
      consoleLog: this.consoleLog,
      quiet: true,
      extraCmdline: [
        `agent.server_addr=serial://${AGENT_PORT}`,
        `agent.shared_fs_tag=${SHARED_FS_TAG}`,
        `agent.log=${d.agentLogLevel}`,
        ...d.extraCmdline,
      ],
    };
  }

  /** Boots and returns once the agent answers Health/Check; fails (and cleans up) by `deadline`. */
  start(deadline: number, signal?: AbortSignal): Promise<void> {
    this.#starting ??= this.#start(deadline, signal).catch(async (err: unknown) => {
      this.#starting = undefined;
      await this.stop();
      throw err;
    });
    return this.#starting;
  }

  async #start(deadline: number, signal?: AbortSignal): Promise<void> {
    await mkdir(this.spec.stateDir, { recursive: true, mode: 0o700 });
    await mkdir(path.dirname(this.consoleLog), { recursive: true });
    const vm = await bootVm(this.bootOptions());
    this.#vm = vm;
    let exit: VmExit | undefined;
    void vm.exited.then((e) => (exit = e), () => undefined);
    // QEMU's socket is there at once, the agent a few seconds later: first wait for its
    // "agent ready" on the console (or the VM's end), then ask it, backing off between tries.
    await Promise.race([vm.waitForConsole(/"agent ready"/, Math.max(deadline - Date.now(), 1)), vm.exited]).catch(() => undefined);
    for (let attempt = 0; ; attempt++) {
      if (exit) throw new RemoteHypervisorError('boot-failed', `VM of sandbox ${this.spec.id} ended before its agent answered (${describeExit(exit)}); console: ${this.consoleLog}`);
      if (signal?.aborted) throw new RemoteHypervisorError('cancelled', `start VM of sandbox ${this.spec.id}: the call was cancelled`);
      const left = deadline - Date.now();
      if (left <= 0) throw new RemoteHypervisorError('deadline', `start VM of sandbox ${this.spec.id}: its agent did not answer Health/Check in time; console: ${this.consoleLog}`);
      if (await agentAnswers(this.agentSocketPath, Math.min(left, 5000))) return;
      await delay(Math.min(100 * 2 ** attempt, 1000, Math.max(deadline - Date.now(), 0)));
    }
  }

  /** Powers the VM off (QEMU and virtiofsd end with it) and removes its state. Idempotent. */
  async stop(): Promise<VmExit | undefined> {
    const vm = this.#vm;
    this.#vm = undefined;
    const exit = vm ? await vm.stop() : undefined;
    await rm(this.spec.stateDir, { recursive: true, force: true });
    return exit;
  }
}

async function agentAnswers(socketPath: string, timeoutMs: number): Promise<boolean> {
  let client: AgentClient | undefined;
  try {
    client = await AgentClient.connect(`serial://${socketPath}`, { timeoutMs });
    const reply = await client.request<{ status: string }>('Health/Check', {}, { timeoutMs });
    return reply.status === 'SERVING';
  } catch {
    return false;
  } finally {
    client?.close();
  }
}

function describeExit(exit: VmExit): string {
  if (exit.panicked) return 'the guest kernel panicked';
  if (exit.shutdown) return `the guest did ${exit.shutdown}`;
  return `QEMU exited with ${exit.code ?? exit.signal}`;
}
