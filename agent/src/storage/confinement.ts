// Guest path confinement: the host names guest paths in many requests (storage mount points,
// bind sources, GetVolumeStats, AddSwapPath), and Kata's runtimes only ever name paths in
// Kata's own tree. A path outside the roots below is refused with PERMISSION_DENIED before
// anything is created, changed or mounted, so a hostile host cannot mount over /etc, chmod
// /usr/bin, bind /etc into the share or stat /proc/1/root. Paths are resolved lexically
// (path.posix.resolve, so ".." cannot climb out), and checkPath also resolves the symlinks of the
// part that exists: the host writes the shared directory, and a symlink it leaves there must not
// lead a mount or bind out of the roots. (A host racing the check by swapping a directory for a
// symlink between check and mount is not stopped by this; that needs fd-based mounts.)
// The roots can be widened by the image's policy (allow_guest_roots, docs/policy.md) and by the
// agent's embedder (tests pass their temporary directories).
import path from 'node:path';
import { realPath, statPath } from '../native/fs-stat';
import { isValidId, KATA_RUN, PATH_MAX } from '../paths';
import type { Storage } from '../proto/messages.generated';
import { confinementDenied, modeDenied, nulInPath, pathTooLong } from './errors';
import { hasOption, optionValue } from './mount-options';

/** What a guest path in a request is used for; each root says which uses it allows. */
export type GuestPathUse =
  /** Storage.mount_point of every driver (a local volume's directory too), overlay upper/work dirs, UpdateEphemeralMounts. */
  | 'mount point'
  /** The source a storage binds (watchable-bind, a virtio-fs or other storage with fstype or option bind). */
  | 'bind source'
  /** The source of a bind mount in CreateContainer's OCI spec. */
  | 'container bind source'
  /** CreateContainer's root.path. */
  | 'container rootfs'
  | 'volume stats'
  | 'swap';

export interface GuestRoot {
  /** Absolute, normalised; a "*" component stands for one container id (paths.ts isValidId). */
  readonly root: string;
  readonly uses: readonly GuestPathUse[];
  /** Where in Kata's source the runtime (or Kata's agent) puts things there. */
  readonly from: string;
}

const STORAGE_USES: readonly GuestPathUse[] = ['mount point', 'bind source', 'container bind source', 'container rootfs', 'volume stats'];
const ALL_USES: readonly GuestPathUse[] = [...STORAGE_USES, 'swap'];

/**
 * The guest paths Kata's runtimes use (read in kata-containers 3.19.1 and 3.27.0 to 3.29.0:
 * runtime-go src/runtime/virtcontainers, runtime-rs src/runtime-rs, the Rust agent src/agent).
 * Rootless runtime-go prefixes these with its rootless dir; such runtimes need allow_guest_roots.
 */
export const KATA_GUEST_ROOTS: readonly GuestRoot[] = [
  {
    root: `${KATA_RUN}/shared/containers`,
    uses: STORAGE_USES,
    from:
      'runtime-go kata_agent.go defaultKataGuestSharedDir: the virtio-fs/9p share (CreateSandbox), container rootfs <cid>/rootfs and block rootfs <cid> (fs_share_linux.go ShareRootFilesystem), ' +
      'the single files bound into containers (<cid>-<rand>-hosts ...), local volumes <sid>/rootfs/local/<name> (handleLocalStorage), watchable/<name> (container.go, watchable-bind); ' +
      'runtime-rs share_fs/mod.rs DEFAULT_KATA_GUEST_SHARE_DIR; Kata agent rpc.rs KATA_GUEST_SHARE_DIR, watcher.rs',
  },
  {
    root: `${KATA_RUN}/shared/virtiofs`,
    uses: STORAGE_USES,
    from: 'this agent: the agent.shared_fs_tag share and the rootfs binds from it (sandbox/shared-fs.ts)',
  },
  {
    root: `${KATA_RUN}/shared`,
    uses: STORAGE_USES,
    from:
      'runtime-go kata_agent.go kataGuestNydusRootDir (the virtio-fs-nydus share) and kataGuestNydusImageDir shared/rafs (nydus lowerdirs, fs_share_linux.go); ' +
      'kata-types mount.rs DEFAULT_KATA_DIRECT_VOLUME_ROOT_PATH shared/direct-volumes; runtime-rs coco_data/initdata.rs shared/initdata',
  },
  {
    root: `${KATA_RUN}/sandbox`,
    uses: STORAGE_USES,
    from:
      'runtime-go kata_agent.go kataGuestSandboxDir: shm (CreateSandbox ephemeral /dev/shm and the containers\' /dev/shm binds), ephemeral/<name> (handleEphemeralStorage, hugepages; sandbox.go updateMounts -> UpdateEphemeralMounts), ' +
      'storage/<base64 source> (handleBlkOCIMounts: direct-assigned block volumes; their GuestDeviceMount is what GetVolumeStats gets, sandbox.go GuestVolumeStats); ' +
      'kata-types mount.rs DEFAULT_KATA_GUEST_SANDBOX_DIR; runtime-rs virtio_fs_share_mount.rs DEFAULT_EPHEMERAL_PATH; Kata agent network.rs sandbox/resolv.conf',
  },
  {
    root: `${KATA_RUN}/virtual-volumes`,
    uses: STORAGE_USES,
    from: 'runtime-go kata_agent.go defaultKataGuestVirtualVolumedir: erofs layer disks (fs_share_linux.go shareRootFilesystemWithErofs)',
  },
  {
    root: `${KATA_RUN}/*`,
    uses: ALL_USES,
    from:
      'runtime-go: /run/kata-containers/<cid>/<rootfs> (kata_agent.go handleVirtualVolumeStorageObject, guest pull), <cid>/rootfs and <cid>/{fs,work} (fs_share_linux.go, fs layers and erofs overlays); ' +
      'runtime-rs rootfs/erofs_rootfs.rs and virtual_volume.rs DEFAULT_KATA_GUEST_ROOT_SHARED_FS; Kata agent rpc.rs CONTAINER_BASE (bundles), storage/multi_layer_erofs.rs. ' +
      'Swap files: any file on a storage in this tree (no Kata runtime sends a file; see /dev)',
  },
  {
    root: '/dev',
    uses: ['container bind source', 'swap'],
    from:
      'runtime-go container.go isHostDevice: binds of /dev device nodes and directories stay in the OCI spec unshared; ' +
      'runtime-rs cpu_mem/swap.rs sends AddSwapPath with the swap disk\'s virt_path, /dev/vdX or /dev/pmemN (hypervisor device_manager.rs get_dev_virt_path)',
  },
  {
    root: '/sys',
    uses: ['container bind source'],
    from: 'runtime-go mount.go systemMountPrefixes / isSystemMount: binds from /sys stay in the OCI spec unshared',
  },
  {
    root: '/proc',
    uses: ['container bind source'],
    from: 'runtime-go mount.go systemMountPrefixes / isSystemMount: binds from /proc stay in the OCI spec unshared (not /proc/<pid>, self, thread-self: those reach other processes\' roots)',
  },
];

// /proc entries that lead into a process (its root, cwd, fds): never a bind source.
const PROC_PROCESS = /^\/proc\/(\d+|self|thread-self)(\/|$)/;

export interface GuestPathConfinementOptions {
  /** Roots allowed for every use besides Kata's (tests' temporary directories). */
  extraRoots?: readonly string[];
  /** Read at every check: roots the active policy adds (PolicyHolder.guestRoots). */
  policyRoots?: () => readonly string[];
}

function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '');
}

/** The real path of a root's fixed part ("/run/kata-containers" of ".../*"), with the rest kept. */
async function realRoot(root: string): Promise<string> {
  const star = root.indexOf('/*');
  const fixed = star === -1 ? root : root.slice(0, star);
  return (await realPathOf(fixed)) + (star === -1 ? '' : root.slice(star));
}

function isBelow(p: string, root: string): boolean {
  const want = components(root);
  const have = components(p);
  if (have.length < want.length) return false;
  return want.every((c, i) => (c === '*' ? isValidId(have[i]!) : c === have[i]));
}

/** Checks an extra root: absolute, normalised, not "/" (which would switch confinement off silently). */
export function checkExtraRoot(root: unknown): string | undefined {
  if (typeof root !== 'string' || !root.startsWith('/') || root.includes('\0')) return `"${String(root)}" is not an absolute path`;
  const resolved = path.posix.resolve(root);
  if (resolved === '/') return '"/" would allow every guest path: list the directories instead';
  if (resolved !== root.replace(/\/+$/, '')) return `"${root}" is not normalised (write "${resolved}")`;
  return undefined;
}

/**
 * `p` with the symlinks of its longest existing prefix resolved and the rest appended (what
 * mkdir -p, mount and stat would reach); `p` itself when nothing can be resolved. The prefix is
 * found by halving (a prefix that resolves has only prefixes that resolve): walking up one
 * component at a time took a realpath of the whole prefix per step, each as many lookups as
 * the prefix is deep, which for a hostile path of 2000 components took seconds of lookups.
 */
async function realPathOf(p: string): Promise<string> {
  const parts = components(p);
  const prefix = (n: number) => `/${parts.slice(0, n).join('/')}`;
  // On threads of their own: these lookups may cross a share whose server has stalled.
  const resolves = (n: number) => statPath(prefix(n)).then(() => true, () => false);
  let lo = 0; // prefix(lo) resolves ("/" does)
  let hi = parts.length; // prefix(hi) may not
  if (await resolves(hi)) lo = hi;
  else {
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (await resolves(mid)) lo = mid;
      else hi = mid;
    }
  }
  try {
    const real = await realPath(prefix(lo));
    const rest = parts.slice(lo).join('/');
    return rest === '' ? real : path.posix.join(real, rest);
  } catch {
    return p;
  }
}

export class GuestPathConfinement {
  readonly #extra: readonly string[];
  readonly #policyRoots: () => readonly string[];

  constructor(opts: GuestPathConfinementOptions = {}) {
    this.#extra = (opts.extraRoots ?? []).map((r) => path.posix.resolve(r));
    this.#policyRoots = opts.policyRoots ?? (() => []);
  }

  /** The roots allowed for `use`: Kata's, then the embedder's, then the policy's. */
  roots(use: GuestPathUse): string[] {
    return [...KATA_GUEST_ROOTS.filter((r) => r.uses.includes(use)).map((r) => r.root), ...this.#extra, ...this.#policyRoots()];
  }

  /**
   * `guestPath` resolved lexically, when it lies in a root allowed for `use`; PERMISSION_DENIED
   * otherwise; INVALID_ARGUMENT for a path with a NUL byte or of PATH_MAX bytes or more. Relative or non-string paths are
   * returned as given, for the caller's own INVALID_ARGUMENT check.
   */
  check(use: GuestPathUse, guestPath: string, operation: string): string {
    if (typeof guestPath !== 'string' || !guestPath.startsWith('/')) return guestPath;
    // No path holds a NUL: the native calls would stop at it, at a path that was never checked.
    if (guestPath.includes('\0')) throw nulInPath(operation, use, guestPath);
    if (Buffer.byteLength(guestPath) >= PATH_MAX) throw pathTooLong(operation, use, guestPath);
    const resolved = path.posix.resolve(guestPath);
    if (this.#allows(use, resolved, this.roots(use))) return resolved;
    throw confinementDenied(operation, use, guestPath, resolved, this.roots(use));
  }

  /**
   * check(), and then the same for the path with the symlinks of its existing part resolved;
   * a root is also matched by its own real path (a root that is itself reached by a symlink).
   * Returns the lexically resolved path.
   */
  async checkPath(use: GuestPathUse, guestPath: string, operation: string): Promise<string> {
    const resolved = this.check(use, guestPath, operation);
    if (typeof resolved !== 'string' || !resolved.startsWith('/')) return resolved;
    const real = await realPathOf(resolved);
    if (real === resolved) return resolved;
    const roots = this.roots(use);
    const realRoots = await Promise.all(roots.map(realRoot));
    if (this.#allows(use, real, [...roots, ...realRoots])) return resolved;
    throw confinementDenied(operation, use, guestPath, `${real} through a symlink`, roots);
  }

  #allows(use: GuestPathUse, resolved: string, roots: readonly string[]): boolean {
    // Kata's own roots do not open /proc's per-process entries; a root added on purpose may.
    const extra = new Set([...this.#extra, ...this.#policyRoots()]);
    return roots.some((root) => isBelow(resolved, root) && (extra.has(root) || use !== 'container bind source' || !PROC_PROCESS.test(resolved)));
  }

  /**
   * Every guest path of one Storage: its mount point, the source when it is bound, overlay
   * upper/work directories; and a local or ephemeral mode without the setuid bit.
   */
  async checkStorage(storage: Storage, operation: string): Promise<void> {
    await this.checkPath('mount point', storage.mount_point, operation);
    const options = storage.options ?? [];
    const binds = storage.driver === 'watchable-bind' || storage.fstype === 'bind' || hasOption(options, 'bind') || hasOption(options, 'rbind');
    if (binds && storage.source) await this.checkPath('bind source', storage.source, operation);
    for (const key of ['upperdir', 'workdir']) {
      const dir = optionValue(options, key);
      if (dir !== undefined) await this.checkPath('mount point', dir, `${operation}: ${key}`);
    }
    // Each layer of an overlay is shown to the container as a bind would show it.
    const lower = optionValue(options, 'lowerdir');
    for (const dir of lower === undefined ? [] : lowerDirs(lower)) await this.checkPath('bind source', dir, `${operation}: lowerdir`);
    const mode = optionValue(options, 'mode');
    if ((storage.driver === 'local' || storage.driver === 'ephemeral') && mode !== undefined && /^[0-7]{1,4}$/.test(mode) && parseInt(mode, 8) & 0o4000) {
      throw modeDenied(operation, mode);
    }
  }

  /** The sources of the bind mounts in an OCI spec (other mount types name no guest path). */
  async checkContainerMounts(mounts: ReadonlyArray<{ type?: unknown; source?: unknown; options?: unknown }> | undefined, operation: string): Promise<void> {
    for (const m of mounts ?? []) {
      const options = Array.isArray(m.options) ? (m.options as unknown[]).filter((o): o is string => typeof o === 'string') : [];
      const bind = m.type === 'bind' || options.includes('bind') || options.includes('rbind');
      if (bind && typeof m.source === 'string') await this.checkPath('container bind source', m.source, operation);
    }
  }
}

/** overlayfs's lowerdir list: directories separated by ':', a '\\:' being part of a name. */
function lowerDirs(value: string): string[] {
  return value.split(/(?<!\\):/).filter(Boolean).map((d) => d.replace(/\\:/g, ':'));
}
