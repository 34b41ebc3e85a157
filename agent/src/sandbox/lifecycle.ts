// CreateSandbox / DestroySandbox: at most one pod per agent.
import path from 'node:path';
import type { ContainerManager } from '../container/manager';
import type { Logger } from '../log/logger';
import { sync } from '../native/system';
import { SHARED_CONTAINERS } from '../paths';
import type { StorageManagerApi, StorageSpec } from '../storage/types';
import { Code, RpcError } from '../ttrpc/status';
import { Sandbox, type SandboxSpec } from './sandbox';

export interface SandboxLifecycleOptions {
  storage: StorageManagerApi;
  log: Logger;
  containers: () => ContainerManager;
  /**
   * Runs after DestroySandbox tore everything down, on the next turn of the event loop so that
   * the reply goes out first: as PID 1 the agent powers the VM off here.
   */
  onDestroyed?: () => void | Promise<void>;
  holderCommand?: string[];
  modprobe?: string;
  /** agent.shared_fs_tag: the virtio-fs share to mount when CreateSandbox sends none. */
  sharedFsTag?: string;
}

/**
 * The request's storages, with the virtio-fs share `tag` mounted at the shared containers
 * directory first, unless the request has a storage there already (then the runtime's wins).
 */
export function withSharedFs(storages: StorageSpec[], tag: string | undefined): StorageSpec[] {
  if (!tag || storages.some((s) => path.resolve('/', s.mount_point) === SHARED_CONTAINERS)) return storages;
  const share: StorageSpec = { driver: 'virtio-fs', driver_options: [], source: tag, fstype: 'virtiofs', options: [], mount_point: SHARED_CONTAINERS, fs_group: null };
  return [share, ...storages];
}

export class SandboxLifecycle {
  #sandbox: Sandbox | undefined;
  #busy = false;

  constructor(private readonly o: SandboxLifecycleOptions) {}

  current(): Sandbox | undefined {
    return this.#sandbox;
  }

  async create(spec: SandboxSpec): Promise<void> {
    if (this.#sandbox || this.#busy) throw new RpcError(Code.ALREADY_EXISTS, `create sandbox ${spec.sandbox_id}: a sandbox already exists`);
    this.#busy = true;
    try {
      spec = { ...spec, storages: withSharedFs(spec.storages ?? [], this.o.sharedFsTag) };
      this.#sandbox = await Sandbox.create(spec, { storage: this.o.storage, log: this.o.log, holderCommand: this.o.holderCommand, modprobe: this.o.modprobe });
    } finally {
      this.#busy = false;
    }
  }

  /** `notify: false` skips onDestroyed (the agent's own shutdown tearing the pod down). */
  async destroy(opts: { notify?: boolean } = {}): Promise<void> {
    const sandbox = this.#sandbox;
    if (!sandbox) throw new RpcError(Code.FAILED_PRECONDITION, 'destroy sandbox: there is no sandbox');
    if (this.#busy) throw new RpcError(Code.FAILED_PRECONDITION, 'destroy sandbox: a sandbox call is in progress');
    this.#busy = true;
    try {
      await this.o.containers().removeAll();
      await sandbox.destroy(this.o.storage);
      this.#sandbox = undefined;
      try {
        sync();
      } catch (err) {
        this.o.log.warn('sync after sandbox destroy failed', { error: err });
      }
    } finally {
      this.#busy = false;
    }
    this.o.log.info('sandbox destroyed', { sandbox: sandbox.spec.sandbox_id });
    const onDestroyed = this.o.onDestroyed;
    if (onDestroyed && opts.notify !== false) {
      setImmediate(() => {
        Promise.resolve()
          .then(onDestroyed)
          .catch((err: unknown) => this.o.log.error('after sandbox destroy', { error: err }));
      });
    }
  }
}
