// The storage layer: mounting what the runtime's Storage messages describe, shared by mount point.
export { StorageManager, type StorageManagerConfig } from './manager';
export type { CheckedStorage, DriverContext, StorageDriver, StorageHandle } from './driver';
export type { StorageManagerApi, StorageManagerOptions } from './types';
export { defaultDrivers, REFUSING_DRIVERS } from './drivers';
export { parseMountOptions, type MountOptions } from './mount-options';
export { GuestPathConfinement, KATA_GUEST_ROOTS, type GuestPathUse, type GuestRoot } from './confinement';
