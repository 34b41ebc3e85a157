// Guest-wide calls of the addon: clock, entropy, swap, pipe size (guest_ops.c).
import { native } from './addon';

interface GuestOpsAddon {
  setTimeOfDay(seconds: number, microseconds: number): void;
  addEntropy(devicePath: string, data: Buffer): void;
  setPipeSize(fd: number, size: number): number;
  getPipeSize(fd: number): number;
  createPipe(): PipeFds;
}

/** Both ends of a pipe, close-on-exec. */
export interface PipeFds {
  read: number;
  write: number;
}

function addon(): GuestOpsAddon {
  return native() as unknown as GuestOpsAddon;
}

/** settimeofday(2). */
export function setTimeOfDay(seconds: number, microseconds = 0): void {
  addon().setTimeOfDay(seconds, microseconds);
}

/** Credits `data` to the kernel entropy pool and reseeds the CRNG (ReseedRandomDev). */
export function addEntropy(data: Buffer, devicePath = '/dev/random'): void {
  addon().addEntropy(devicePath, data);
}

/** swapon(2), on a thread of its own: a swap file on a stalled share can hold it. */
export function swapOn(path: string, flags = 0): Promise<void> {
  return native().swapOnAsync(path, flags);
}

/** swapoff(2), on a thread of its own (it pages everything back in first). */
export function swapOff(path: string): Promise<void> {
  return native().swapOffAsync(path);
}

/** F_SETPIPE_SZ; returns the size granted (the kernel rounds up to a power of two pages). */
export function setPipeSize(fd: number, size: number): number {
  return addon().setPipeSize(fd, size);
}

/** F_GETPIPE_SZ. */
export function getPipeSize(fd: number): number {
  return addon().getPipeSize(fd);
}

/** pipe2(O_CLOEXEC): libuv only makes socket pairs for a child's stdio. */
export function createPipe(): PipeFds {
  return addon().createPipe();
}
