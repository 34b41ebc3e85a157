// Loads kata_native.node, the C addon in agent/native/, and describes its raw interface.
// The rest of this folder wraps it in typed, Node-shaped functions; use those, not this.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

declare const pollWatchBrand: unique symbol;
/** An opaque uv_poll handle owned by the addon. */
export type PollWatchHandle = { readonly [pollWatchBrand]: true };

/** Exit as the kernel reports it: `code` for exit(), `signal` (a number) for death by signal. */
export interface RawExitStatus {
  pid: number;
  code?: number;
  signal?: number;
}

/** statfs(2) as Node's statfs(path, { bigint: true }) reports it. */
export interface RawStatfs {
  type: bigint;
  bsize: bigint;
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
}

export interface NativeAddon {
  readonly POLL_READABLE: number;
  readonly POLL_WRITABLE: number;
  pollOpen(fd: number, onEvents: (status: number, events: number) => void): PollWatchHandle;
  pollStart(watch: PollWatchHandle, events: number): void;
  pollRef(watch: PollWatchHandle, keepAlive: boolean): void;
  pollClose(watch: PollWatchHandle): void;

  readFd(fd: number, maxBytes: number): Buffer | null | undefined;
  writeFd(fd: number, data: Buffer, offset: number): number;
  shutdownWrite(fd: number): void;
  closeFd(fd: number): void;
  setNonBlocking(fd: number): void;
  /** revents of a poll() that does not wait (0 when nothing is ready). */
  pollFd(fd: number): number;
  /** O_ASYNC on (1) or off (0), with this process as the SIGIO owner. */
  setAsyncSignal(fd: number, on: number): void;

  vsockListen(cid: number, port: number, backlog: number): number;
  vsockAccept(fd: number): { fd: number; cid: number; port: number } | null;
  vsockConnect(cid: number, port: number): { fd: number; pending: boolean };
  vsockConnectResult(fd: number, cid: number, port: number): void;
  vsockLocalCid(): number;

  unixListen(path: string, backlog: number): number;
  unixAccept(fd: number): number | null;
  /** The first fd of a message (others it carried are closed); -1 at end of stream; null when none yet. */
  receiveFd(fd: number): number | null;
  /** The pid of a connected unix socket's peer (SO_PEERCRED). */
  peerPid(fd: number): number;

  pidfdOpen(pid: number): number;
  pidfdWaitExit(pidfd: number, pid: number): RawExitStatus | null;
  /** Throws ENOMEM, having reaped nothing, when it cannot hold the list of pids to leave alone. */
  reapOrphans(ownedPids: number[]): RawExitStatus[];
  /** Tests only: the next `count` pid-list growths in the reaper fail as if out of memory. */
  testOnlyFailPidListAllocations(count: number): void;
  libuvChildPids(): number[];
  setChildSubreaper(on: boolean): void;
  isChildSubreaper(): boolean;
  /** posix_spawn; args exclude argv[0]; env null inherits ours; a stdio fd of -1 is /dev/null. */
  spawnProcess(path: string, args: string[], env: string[] | null, stdio: number[], opts?: { cwd?: string }): number;

  /** On the JS thread: PID 1's boot mounts only. */
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  chroot(path: string): void;
  // Each on a thread of its own (blocking_calls.c): a stalled filesystem server never blocks the loop.
  mountAsync(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): Promise<void>;
  umount2Async(target: string, flags: number): Promise<void>;
  syncAsync(): Promise<void>;
  swapOnAsync(path: string, flags: number): Promise<void>;
  swapOffAsync(path: string): Promise<void>;
  statfsAsync(path: string): Promise<RawStatfs>;
  statAsync(path: string): Promise<void>;
  realpathAsync(path: string): Promise<string>;
  setns(fd: number, nstype: number): void;
  unshare(flags: number): void;
  sethostname(name: string): void;
  reboot(cmd: number): void;
  setWindowSize(fd: number, rows: number, cols: number): void;
  getWindowSize(fd: number): { rows: number; cols: number };

  /** Resolved beneath dirfd by openat2 with no symlink followed (beneath.c); `walk` forces the fallback. */
  openBeneath(dirfd: number, path: string, flags: number, mode: number, walk?: boolean): number;
  mkdirAt(dirfd: number, name: string, mode: number): void;
  fchmod(fd: number, mode: number): void;
  fchown(fd: number, uid: number, gid: number): void;
  renameAt(dirfd: number, from: string, to: string): void;
  unlinkAt(dirfd: number, name: string, flags: number): void;
  symlinkAt(target: string, dirfd: number, name: string): void;

  /** Every constant the C side defines (MS_*, MNT_*, CLONE_NEW*, RB_*, VMADDR_CID_*). */
  readonly [constant: string]: unknown;
}

const ADDON_FILE = 'kata_native.node';

/** Where the addon may be, in order: an explicit override, beside the bundle, the source tree. */
export function addonCandidates(): string[] {
  const candidates: string[] = [];
  const override = process.env.KATA_NATIVE_ADDON;
  if (override) candidates.push(override);
  // dist/agent.js -> dist/native/kata_native.node (scripts/build.mjs copies it there).
  candidates.push(fileURLToPath(new URL(`./native/${ADDON_FILE}`, import.meta.url)));
  // agent/src/native/addon.ts -> agent/native/build/Release/kata_native.node (node-gyp output).
  candidates.push(fileURLToPath(new URL(`../../native/build/Release/${ADDON_FILE}`, import.meta.url)));
  return candidates;
}

let loaded: NativeAddon | undefined;

/** The addon, loaded on first use so that importing agent modules never needs it. */
export function native(): NativeAddon {
  if (loaded) return loaded;
  const candidates = addonCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    throw Object.assign(
      new Error(
        `load native addon ${ADDON_FILE}: not found; tried ${candidates.join(', ')} ` +
          '(build it: npx node-gyp rebuild --directory agent/native)',
      ),
      { code: 'ERR_NATIVE_ADDON_MISSING' },
    );
  }
  // process.dlopen, not require(): started from a startup snapshot, the first require() would
  // first set up Node's whole module loader, a cost at every boot.
  const module = { exports: {} as NativeAddon };
  try {
    process.dlopen(module, path);
    loaded = module.exports;
  } catch (err) {
    throw new Error(`load native addon ${path}: ${(err as Error).message}`, { cause: err });
  }
  return loaded;
}
