// The contract between the storage layer and its users (sandbox and containers).
import type { Logger } from '../log/logger';
import type { Storage } from '../proto/messages.generated';
import type { GuestPathConfinement } from './confinement';

export interface StorageManagerOptions {
  log: Logger;
  /** How long to wait for a hot-plugged device to appear (agent.hotplug_timeout). */
  hotplugTimeoutMs: number;
  /** Root of sysfs and /dev, for device lookups (tests point these at a fake tree). */
  sysRoot?: string;
  devRoot?: string;
  /** Which guest paths storages may use (default: Kata's roots only, confinement.ts). */
  confinement?: GuestPathConfinement;
}

export interface StorageManagerApi {
  /**
   * Mounts each storage for `owner` (a container id, or "sandbox"), or takes one more
   * reference on a storage already mounted at the same mount point. Returns the mount points
   * in order. On failure nothing of this call stays mounted and the error names the storage.
   */
  add(owner: string, storages: Storage[], signal?: AbortSignal): Promise<string[]>;
  /** Drops every reference `owner` holds; unmounts storages whose last user went. */
  release(owner: string): Promise<void>;
  /** Mount points currently held, with their owners (for tests and diagnostics). */
  snapshot(): Array<{ mountPoint: string; driver: string; owners: string[] }>;
}
