// The storages of a sandbox, reference-counted by mount point: the first owner (a container id
// or "sandbox") to add a mount point mounts it, later owners take a reference, and it is
// unmounted when its last owner releases it. An add() that fails half-way gives back every
// reference it took, so nothing it mounted stays mounted.
import type { Logger } from '../log/logger';
import type { Storage } from '../proto/messages.generated';
import { Code, RpcError } from '../ttrpc/status';
import type { CheckedStorage, DriverContext, StorageDriver, StorageHandle } from './driver';
import { defaultDrivers } from './drivers';
import { GuestPathConfinement } from './confinement';
import { cancelled, storageError } from './errors';
import { checkMountPoint } from './mount-point';
import type { StorageManagerApi, StorageManagerOptions } from './types';

export interface StorageManagerConfig extends StorageManagerOptions {
  /** Drivers replacing or adding to the defaults, by Storage.driver name (tests, special guests). */
  drivers?: Record<string, StorageDriver>;
}

interface MountEntry {
  readonly mountPoint: string;
  readonly driver: string;
  readonly source: string;
  /** owner -> how many times it added this mount point. */
  readonly owners: Map<string, number>;
  /** Settles when the driver has finished adding (or failed to). */
  readonly ready: Promise<StorageHandle>;
  handle?: StorageHandle;
}

export class StorageManager implements StorageManagerApi {
  private readonly drivers = new Map<string, StorageDriver>();
  private readonly entries = new Map<string, MountEntry>();
  /** Unmounts in progress, so that a new add of the same mount point waits for them. */
  private readonly releasing = new Map<string, Promise<void>>();
  private readonly log: Logger;
  private readonly confinement: GuestPathConfinement;

  constructor(private readonly opts: StorageManagerConfig) {
    this.log = opts.log.child({ subsystem: 'storage' });
    this.confinement = opts.confinement ?? new GuestPathConfinement();
    for (const [name, driver] of Object.entries({ ...defaultDrivers(), ...opts.drivers })) this.drivers.set(name, driver);
  }

  /** Adds or replaces the driver for Storage.driver `name`. */
  registerDriver(name: string, driver: StorageDriver): void {
    this.drivers.set(name, driver);
  }

  async add(owner: string, storages: Storage[], signal?: AbortSignal): Promise<string[]> {
    // Every guest path of every storage first: a request with one path outside the allowed
    // roots changes nothing, also when its mount points are already held.
    for (const [index, storage] of storages.entries()) {
      const label = `storage ${index} (${storage.driver} ${storage.source})`;
      await this.confinement.checkStorage({ ...normalise(storage), mount_point: checkMountPoint(storage.mount_point, `add ${label}`) }, `add ${label}`);
    }
    const taken: MountEntry[] = [];
    const mountPoints: string[] = [];
    try {
      for (const [index, storage] of storages.entries()) {
        const label = `storage ${index} (${storage.driver} ${storage.source})`;
        if (signal?.aborted) throw cancelled(`add ${label} for ${owner}`);
        const mountPoint = checkMountPoint(storage.mount_point, `add ${label}`);
        const entry = this.entries.get(mountPoint) ?? this.startAdding(owner, { ...normalise(storage), mount_point: mountPoint }, signal);
        if (entry.driver !== storage.driver || entry.source !== storage.source) {
          this.log.warn('storage already mounted by another driver or source; sharing it', { mountPoint, driver: storage.driver, source: storage.source, mountedDriver: entry.driver, mountedSource: entry.source });
        }
        entry.owners.set(owner, (entry.owners.get(owner) ?? 0) + 1);
        taken.push(entry);
        await entry.ready;
        mountPoints.push(mountPoint);
      }
      return mountPoints;
    } catch (err) {
      for (const entry of taken.reverse()) {
        await this.dropReference(entry, owner, false).catch((releaseErr: unknown) => {
          this.log.error('rollback of storage failed', { mountPoint: entry.mountPoint, owner, error: releaseErr });
        });
      }
      throw err;
    }
  }

  async release(owner: string): Promise<void> {
    const held = [...this.entries.values()].filter((e) => e.owners.has(owner)).reverse();
    let firstError: unknown;
    for (const entry of held) {
      try {
        await this.dropReference(entry, owner, true);
      } catch (err) {
        this.log.error('release of storage failed', { mountPoint: entry.mountPoint, owner, error: err });
        firstError ??= err;
      }
    }
    if (firstError !== undefined) throw firstError;
  }

  /** Releases every owner's storages, last added first (DestroySandbox). */
  async releaseAll(): Promise<void> {
    const owners = new Set<string>();
    for (const entry of [...this.entries.values()].reverse()) for (const owner of entry.owners.keys()) owners.add(owner);
    let firstError: unknown;
    for (const owner of owners) {
      await this.release(owner).catch((err: unknown) => {
        firstError ??= err;
      });
    }
    if (firstError !== undefined) throw firstError;
  }

  snapshot(): Array<{ mountPoint: string; driver: string; owners: string[] }> {
    return [...this.entries.values()]
      .filter((e) => e.handle !== undefined && e.owners.size > 0)
      .map((e) => ({ mountPoint: e.mountPoint, driver: e.driver, owners: [...e.owners.keys()].sort() }));
  }

  private startAdding(owner: string, storage: CheckedStorage, signal: AbortSignal | undefined): MountEntry {
    const driver = this.drivers.get(storage.driver);
    if (driver === undefined) {
      throw new RpcError(
        Code.UNIMPLEMENTED,
        `add storage at ${storage.mount_point}: storage driver "${storage.driver}" is not supported (supported: ${[...this.drivers.keys()].sort().join(', ')})`,
      );
    }
    const ctx: DriverContext = {
      log: this.log.child({ storageDriver: storage.driver }),
      owner,
      hotplugTimeoutMs: this.opts.hotplugTimeoutMs,
      sysRoot: this.opts.sysRoot ?? '/sys',
      devRoot: this.opts.devRoot ?? '/dev',
      signal,
    };
    const previousRelease = this.releasing.get(storage.mount_point);
    const ready = (async () => {
      await previousRelease;
      try {
        return await driver.add(storage, ctx);
      } catch (err) {
        throw storageError(`add storage ${storage.driver} ${storage.source} at ${storage.mount_point}`, err);
      }
    })();
    const entry: MountEntry = { mountPoint: storage.mount_point, driver: storage.driver, source: storage.source, owners: new Map(), ready };
    this.entries.set(storage.mount_point, entry);
    ready.then(
      (handle) => {
        entry.handle = handle;
      },
      () => {
        // A failed add leaves no entry: the next add of this mount point starts afresh.
        if (this.entries.get(entry.mountPoint) === entry) this.entries.delete(entry.mountPoint);
      },
    );
    return entry;
  }

  /** Drops one owner's references to `entry` (all of them, or one), unmounting after the last. */
  private async dropReference(entry: MountEntry, owner: string, all: boolean): Promise<void> {
    const count = entry.owners.get(owner) ?? 0;
    if (count <= 1 || all) entry.owners.delete(owner);
    else entry.owners.set(owner, count - 1);
    if (entry.owners.size > 0) return;

    let handle: StorageHandle;
    try {
      handle = await entry.ready;
    } catch {
      return; // never mounted
    }
    // Someone may have taken a reference while we waited for the add to finish.
    if (entry.owners.size > 0 || this.entries.get(entry.mountPoint) !== entry) return;
    this.entries.delete(entry.mountPoint);
    const done = handle.release();
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    this.releasing.set(entry.mountPoint, settled);
    try {
      await done;
      this.log.info('storage released', { mountPoint: entry.mountPoint, driver: entry.driver });
    } finally {
      if (this.releasing.get(entry.mountPoint) === settled) this.releasing.delete(entry.mountPoint);
    }
  }
}

// Decoded requests may leave repeated fields undefined; drivers get arrays.
function normalise(storage: Storage): Storage {
  return {
    ...storage,
    driver: storage.driver ?? '',
    source: storage.source ?? '',
    fstype: storage.fstype ?? '',
    options: storage.options ?? [],
    driver_options: storage.driver_options ?? [],
    fs_group: storage.fs_group ?? null,
  };
}
