// Which signal actually reaches a process. Kata's rule: PID 1 of a pid namespace gets no
// default action for SIGTERM, so an init that does not catch SIGTERM would never die of it;
// it gets SIGKILL instead.
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';

const SIGTERM = constants.signals.SIGTERM;
const SIGKILL = constants.signals.SIGKILL;

/** Whether `pid` has a handler for `signal` (SigCgt in /proc/<pid>/status). */
export async function catchesSignal(pid: number, signal: number): Promise<boolean> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return false; // gone: nothing to deliver to anyway
  }
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status);
  if (!m) return false;
  return (BigInt(`0x${m[1]}`) & (1n << BigInt(signal - 1))) !== 0n;
}

export async function effectiveSignal(signal: number, pid: number, isNamespaceInit: boolean): Promise<number> {
  if (signal === SIGTERM && isNamespaceInit && !(await catchesSignal(pid, SIGTERM))) return SIGKILL;
  return signal;
}

export { SIGKILL, SIGTERM };
