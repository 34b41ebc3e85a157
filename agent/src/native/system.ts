// Powering the VM off or restarting it (only meaningful as PID 1 in a VM), and sync(2).
import { native } from './addon';
import { RB_AUTOBOOT, RB_POWER_OFF } from './constants';

export type RebootCommand = 'power-off' | 'restart';

/** Flushes filesystem buffers to disk, on a thread of its own: a stalled device can hold it. */
export function sync(): Promise<void> {
  return native().syncAsync();
}

/** Does not return on success; call sync() and unmount first. Throws EPERM when not allowed. */
export function reboot(command: RebootCommand): void {
  native().reboot(command === 'power-off' ? RB_POWER_OFF : RB_AUTOBOOT);
}
