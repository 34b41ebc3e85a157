import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how a command was called: printed with the usage hint, exit status 2. */
export class UsageError extends Error {}

export type FlagValues = Record<string, string | boolean | undefined>;

/** node:util parseArgs with unknown flags and stray words reported as usage errors. */
export function parseFlags(argv: string[], options: NonNullable<ParseArgsConfig['options']>): FlagValues {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values as FlagValues;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function stringFlag(values: FlagValues, flag: string): string | undefined {
  const v = values[flag];
  return typeof v === 'string' ? v : undefined;
}

export function choiceFlag<T extends string>(values: FlagValues, flag: string, allowed: readonly T[], fallback: T): T {
  const value = stringFlag(values, flag);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag} ${value}: expected one of ${allowed.join(', ')}`);
  return value as T;
}

export function integerFlag(values: FlagValues, flag: string): number | undefined {
  const value = stringFlag(values, flag);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} ${value}: expected a whole number`);
  return Number(value);
}
