// The pod as the guest sees it: set up once by CreateSandbox, torn down by DestroySandbox.
import { mkdir, rm } from 'node:fs/promises';
import type { Logger } from '../log/logger';
import { SANDBOX_DIR, SANDBOX_SHM } from '../paths';
import type { CreateSandboxRequest } from '../proto/messages.generated';
import type { StorageManagerApi } from '../storage/types';
import { Code, RpcError } from '../ttrpc/status';
import type { SandboxNamespaces } from '../container/spec-rewrite';
import { writeResolvConf } from './dns';
import { type GuestHooks, readGuestHooks } from './guest-hooks';
import { loadKernelModule } from './kernel-modules';
import { NamespaceHolder } from './namespace-holder';

/** The storage owner name of the pod's own storages. */
export const SANDBOX_OWNER = 'sandbox';

export interface SandboxOptions {
  storage: StorageManagerApi;
  log: Logger;
  /** Program run as the namespace holder (default: cat, blocking on its stdin). */
  holderCommand?: string[];
  modprobe?: string;
  /** CreateSandbox's deadline: bounds the storage mounts. */
  signal?: AbortSignal;
}

export class Sandbox {
  /** The pid namespace of the first container, joined by the others when sandbox_pidns. */
  #sharedPidNs: string | undefined;

  private constructor(
    /** The pod's request, as CreateSandbox decoded it. */
    readonly spec: CreateSandboxRequest,
    readonly holder: NamespaceHolder,
    readonly resolvConf: string | undefined,
    readonly shm: string | undefined,
    /** OCI hooks from guest_hook_path, given to every container of the pod. */
    readonly hooks: GuestHooks,
  ) {}

  static async create(spec: CreateSandboxRequest, opts: SandboxOptions): Promise<Sandbox> {
    const log = opts.log.child({ subsystem: 'sandbox', sandbox: spec.sandbox_id });
    for (const mod of spec.kernel_modules) await loadKernelModule(mod, opts.modprobe);
    const hooks = spec.guest_hook_path ? await readGuestHooks(spec.guest_hook_path) : {};
    await mkdir(SANDBOX_DIR, { recursive: true });
    let holder: NamespaceHolder | undefined;
    let storagesAdded = false;
    try {
      holder = NamespaceHolder.start({ hostname: spec.hostname, command: opts.holderCommand });
      const resolvConf = spec.dns.length > 0 ? await writeResolvConf(spec.dns) : undefined;
      storagesAdded = true;
      const mountPoints = await opts.storage.add(SANDBOX_OWNER, spec.storages, opts.signal);
      const shm = mountPoints.some((m) => m.replace(/\/+$/, '') === SANDBOX_SHM) ? SANDBOX_SHM : undefined;
      if (spec.guest_hook_path) log.info('guest hooks found', { guestHookPath: spec.guest_hook_path, hooks: Object.fromEntries(Object.entries(hooks).map(([k, v]) => [k, v.map((h) => h.args[0])])) });
      log.info('sandbox created', { hostname: spec.hostname, holderPid: holder.pid, storages: mountPoints, pidns: spec.sandbox_pidns });
      return new Sandbox(spec, holder, resolvConf, shm, hooks);
    } catch (err) {
      if (storagesAdded) await opts.storage.release(SANDBOX_OWNER).catch(() => undefined);
      await holder?.stop();
      await rm(`${SANDBOX_DIR}/resolv.conf`, { force: true });
      throw err;
    }
  }

  /** The namespaces a new container joins; `sharePid` when it asks for the pod's pid namespace. */
  namespacesFor(sharePid: boolean): SandboxNamespaces {
    if (!this.holder.alive) throw new RpcError(Code.FAILED_PRECONDITION, `sandbox ${this.spec.sandbox_id}: its namespace holder has exited`);
    return {
      ipc: this.holder.ipcPath,
      uts: this.holder.utsPath,
      pid: sharePid || this.spec.sandbox_pidns ? this.#sharedPidNs : undefined,
    };
  }

  /** Called with a container's init pid: the first one's pid namespace becomes the pod's. */
  noteContainerInit(pid: number, sharePid: boolean): void {
    if ((sharePid || this.spec.sandbox_pidns) && this.#sharedPidNs === undefined) this.#sharedPidNs = `/proc/${pid}/ns/pid`;
  }

  async destroy(storage: StorageManagerApi): Promise<void> {
    await storage.release(SANDBOX_OWNER);
    await this.holder.stop();
    await rm(`${SANDBOX_DIR}/resolv.conf`, { force: true });
  }
}
