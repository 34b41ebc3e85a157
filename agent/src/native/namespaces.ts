// setns(2), unshare(2), sethostname(2) for the agent's own process.
// Node is multi-threaded and these act on the calling (JS) thread only: unshare(CLONE_NEWNS)
// would leave libuv's threadpool (async fs calls) in the old mount namespace, and setns into a
// mount namespace fails with EINVAL. Use them for UTS/IPC/net; containers get namespaces from crun.
import { native } from './addon';

/** Enters the namespace `fd` refers to (an fd of /proc/PID/ns/*); nstype 0 accepts any type. */
export function setns(fd: number, nstype = 0): void {
  native().setns(fd, nstype);
}

export function unshare(flags: number): void {
  native().unshare(flags);
}

export function sethostname(name: string): void {
  native().sethostname(name);
}
