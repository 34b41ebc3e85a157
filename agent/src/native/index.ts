// The agent's typed face over kata_native (agent/native/): Linux calls Node lacks.
export { addonCandidates, native } from './addon';
export * from './constants';
export { receiveFd } from './console-socket';
export type { ExitStatus } from './exit-status';
export { FdStream, type FdStreamOptions } from './fd-stream';
export { FdWatch, type FdReadiness } from './fd-watch';
export { chroot, mount, mountSync, umount } from './mount';
export { statfs, statPath, type Statfs } from './fs-stat';
export { setns, sethostname, unshare } from './namespaces';
export { OrphanReaper, isChildSubreaper, isPid1, setChildSubreaper, type ReapedOrphan } from './orphan-reaper';
export { claimPid, releasePid } from './owned-pids';
export { waitForProcessExit } from './process-exit';
export { spawnProcess, type SpawnedProcess, type SpawnProcessOptions, type SpawnStdioFd } from './spawn';
export { reboot, sync, type RebootCommand } from './system';
export { getWindowSize, setWindowSize, type WindowSize } from './terminal';
export { VsockServer, VsockSocket, connectVsock, vsockLocalCid, type ConnectVsockOptions, type VsockAddress } from './vsock';
export { addEntropy, createPipe, getPipeSize, setPipeSize, setTimeOfDay, swapOff, swapOn, type PipeFds } from './guest-ops';
export { NETLINK_ROUTE, NetlinkSocket } from './netlink';
