// What every storage driver implements, and what the manager gives it to work with.
import type { Logger } from '../log/logger';
import type { Storage } from '../proto/messages.generated';

/** A Storage whose mount point has been checked and normalised by the manager. */
export type CheckedStorage = Storage & { readonly mount_point: string };

export interface DriverContext {
  log: Logger;
  /** The container id (or "sandbox") the storage is added for; overlayfs rw layers live under it. */
  owner: string;
  hotplugTimeoutMs: number;
  sysRoot: string;
  devRoot: string;
  signal?: AbortSignal;
}

/** A storage made available; `release` undoes exactly what `add` did. */
export interface StorageHandle {
  readonly mountPoint: string;
  release(): Promise<void>;
}

export interface StorageDriver {
  /** Makes `storage` available at its mount point. On failure it leaves nothing mounted. */
  add(storage: CheckedStorage, ctx: DriverContext): Promise<StorageHandle>;
}
