// agent.shared_fs_tag: a sandbox share the runtime fills but sends no storage for (Kata's remote
// hypervisor type). runtime-go bind-mounts each container's rootfs into the share on the host
// (<share>/<cid>/rootfs) and copies the container's single-file mounts (/etc/hosts, resolv.conf,
// termination-log) with CopyFile into /run/kata-containers/shared/containers. The share is
// read-only (the host binds it so), so it cannot be mounted there: it goes beside it, and each
// container's rootfs is bound from it into the place the spec names.
import path from 'node:path';
import { KATA_RUN, SHARED_CONTAINERS, sharedRootfs } from '../paths';
import type { Storage } from '../proto/messages.generated';

/** Where the share named by agent.shared_fs_tag is mounted. */
export const SHARED_FS_MOUNT = `${KATA_RUN}/shared/virtiofs`;

const noStorage = (storages: Storage[], mountPoint: string) => !storages.some((s) => path.resolve('/', s.mount_point) === mountPoint);

/**
 * CreateSandbox's storages, with the share `tag` mounted at SHARED_FS_MOUNT first, unless off or
 * the request shares a filesystem at the containers directory itself (then the runtime's wins).
 */
export function withSharedFs(storages: Storage[], tag: string | undefined): Storage[] {
  if (!tag || !noStorage(storages, SHARED_CONTAINERS) || !noStorage(storages, SHARED_FS_MOUNT)) return storages;
  const share: Storage = { driver: 'virtio-fs', driver_options: [], source: tag, fstype: 'virtiofs', options: [], mount_point: SHARED_FS_MOUNT, fs_group: null, shared: false };
  return [share, ...storages];
}

/**
 * CreateContainer's storages, with the container's rootfs bound from the share when the share
 * is on, the spec's root is Kata's default place, and no storage of the request provides it.
 */
export function withShareRootfs(storages: Storage[], containerId: string, rootfs: string, tag: string | undefined): Storage[] {
  const place = sharedRootfs(containerId);
  if (!tag || path.resolve('/', rootfs) !== place) return storages;
  if (!noStorage(storages, place) || !noStorage(storages, path.dirname(place))) return storages;
  const bind: Storage = { driver: 'watchable-bind', driver_options: [], source: `${SHARED_FS_MOUNT}/${containerId}/rootfs`, fstype: 'bind', options: [], mount_point: place, fs_group: null, shared: false };
  return [...storages, bind];
}
