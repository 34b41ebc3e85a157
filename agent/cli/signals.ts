// Signal names and numbers for kill: "9", "KILL", "SIGKILL" all mean 9. Linux numbers, which
// are what the guest uses whatever the host is.
import { constants } from 'node:os';
import { UsageError } from './command';

const BY_NAME = constants.signals as Readonly<Record<string, number>>;

export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 64) return n;
    throw new UsageError(`signal ${text} is out of range (1-64)`);
  }
  const upper = text.toUpperCase();
  const n = BY_NAME[upper.startsWith('SIG') ? upper : `SIG${upper}`];
  if (n === undefined) throw new UsageError(`unknown signal "${text}" (give a number or a name such as TERM, KILL, HUP)`);
  return n;
}

export const SIGKILL = BY_NAME.SIGKILL!;
export const SIGTERM = BY_NAME.SIGTERM!;
