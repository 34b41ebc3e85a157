// Exit status in child_process's shape: exactly one of code and signal is set.
import { constants } from 'node:os';
import type { RawExitStatus } from './addon';

export type ExitStatus = { code: number; signal: null } | { code: null; signal: NodeJS.Signals };

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, num]) => [num, name as NodeJS.Signals]),
);

export function toExitStatus(raw: RawExitStatus): ExitStatus {
  if (raw.code !== undefined) return { code: raw.code, signal: null };
  const signal = signalNames.get(raw.signal ?? 0);
  if (signal === undefined) throw new Error(`exit status of pid ${raw.pid}: unknown signal ${raw.signal}`);
  return { code: null, signal };
}
