// CreateSandbox / DestroySandbox: at most one pod per agent.
import { mkdir } from 'node:fs/promises';
import type { Logger } from '../log/logger';
import { sync } from '../native/system';
import { SHARED_CONTAINERS } from '../paths';
import { settledWithin } from '../settled-within';
import type { CreateSandboxRequest } from '../proto/messages.generated';
import type { StorageManagerApi } from '../storage/types';
import { Code, RpcError } from '../ttrpc/status';
import { Sandbox } from './sandbox';
import { withSharedFs } from './shared-fs';

export interface SandboxLifecycleOptions {
  storage: StorageManagerApi;
  log: Logger;
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

/** The pod's current sandbox, as the container area looks it up. */
export interface SandboxLookup {
  current(): Sandbox | undefined;
}

/** How long DestroySandbox waits for its sync: a filesystem whose server stopped never ends one. */
export const SYNC_WAIT_MS = 5_000;

export class SandboxLifecycle implements SandboxLookup {
  #sandbox: Sandbox | undefined;
  #busy = false;
  #beforeDestroy: Array<() => Promise<void>> = [];

  constructor(private readonly o: SandboxLifecycleOptions) {}

  current(): Sandbox | undefined {
    return this.#sandbox;
  }

  /**
   * Work that must be done before the sandbox goes (its containers removed), in the order
   * given. The sandbox side owns this hook so it needs nothing of the container area.
   */
  beforeDestroy(step: () => Promise<void>): void {
    this.#beforeDestroy.push(step);
  }

  /** `signal` (the call's deadline) bounds the storage mounts. */
  async create(spec: CreateSandboxRequest, signal?: AbortSignal): Promise<void> {
    if (this.#sandbox || this.#busy) throw new RpcError(Code.ALREADY_EXISTS, `create sandbox ${spec.sandbox_id}: a sandbox already exists`);
    this.#busy = true;
    try {
      spec = { ...spec, storages: withSharedFs(spec.storages ?? [], this.o.sharedFsTag) };
      // With the share beside it, nothing mounts the containers directory: CopyFile writes there.
      if (this.o.sharedFsTag) await mkdir(SHARED_CONTAINERS, { recursive: true });
      this.#sandbox = await Sandbox.create(spec, { storage: this.o.storage, log: this.o.log, holderCommand: this.o.holderCommand, modprobe: this.o.modprobe, signal });
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
      for (const step of this.#beforeDestroy) await step();
      await sandbox.destroy(this.o.storage);
      this.#sandbox = undefined;
      // sync(2) goes on on its own thread if slow; the power-off syncs again.
      const synced = await settledWithin(sync(), SYNC_WAIT_MS).catch((err: unknown) => {
        this.o.log.warn('sync after sandbox destroy failed', { error: err });
      });
      if (synced === 'slow') this.o.log.warn('sync after sandbox destroy did not return: a filesystem does not answer', { waitedMs: SYNC_WAIT_MS });
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
