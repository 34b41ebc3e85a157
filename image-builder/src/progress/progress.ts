// Progress lines go to stderr so stdout stays free for machine-readable results.
export type Progress = (message: string) => void;

const startedAt = Date.now();

export const stderrProgress: Progress = (message) => {
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${seconds}s] ${message}\n`);
};

export const silentProgress: Progress = () => {};

/** Runs one build step, reporting its start and its duration. */
export async function timedStep<T>(progress: Progress, label: string, step: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  progress(`${label} ...`);
  const result = await step();
  progress(`${label}: done in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return result;
}

/** Human-readable byte count for progress lines and reports. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${bytes} B`;
}
