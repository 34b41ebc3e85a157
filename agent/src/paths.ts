// Guest paths the Kata runtime relies on (kata-wire.md). Absolute: tests run the agent in its
// own mount namespace with a tmpfs over /run/kata-containers instead of rebasing paths.

export const KATA_RUN = '/run/kata-containers';
/** Where the virtio-fs (or 9p) share with every container's rootfs is mounted. */
export const SHARED_CONTAINERS = `${KATA_RUN}/shared/containers`;
export const SANDBOX_DIR = `${KATA_RUN}/sandbox`;
export const SANDBOX_SHM = `${SANDBOX_DIR}/shm`;
export const SANDBOX_EPHEMERAL = `${SANDBOX_DIR}/ephemeral`;
/** virtio-fs tag of the shared directory. */
export const SHARED_FS_TAG = 'kataShared';

/** Per-container state (bundle, config.json, crun state) lives here. */
export function containerStateDir(containerId: string): string {
  return `${KATA_RUN}/${containerId}`;
}

/** The default rootfs of a container whose rootfs comes through the shared directory. */
export function sharedRootfs(containerId: string): string {
  return `${SHARED_CONTAINERS}/${containerId}/rootfs`;
}

/** Linux's limit on a path given to a system call, its NUL included (ENAMETOOLONG past it). */
export const PATH_MAX = 4096;

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Container, exec and sandbox ids become path components: no slashes, no "..". */
export function isValidId(id: string): boolean {
  return ID_RE.test(id) && id !== '.' && id !== '..' && !id.includes('..');
}
