/** The reproducible-builds timestamp: $SOURCE_DATE_EPOCH, or 0 when unset. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+$/.test(raw)) throw new Error(`SOURCE_DATE_EPOCH=${raw}: not a non-negative integer`);
  return Number(raw);
}
