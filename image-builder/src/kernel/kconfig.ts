// Reading Kconfig files (.config and our fragments): `CONFIG_X=value` lines and
// `# CONFIG_X is not set`, which we record as the value "n" (how Kconfig itself treats it).

export type KconfigValues = Map<string, string>;

const SET_LINE = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const UNSET_LINE = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/;

export function parseKconfig(text: string): KconfigValues {
  const values: KconfigValues = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const set = SET_LINE.exec(line);
    if (set) {
      values.set(set[1]!, set[2]!);
      continue;
    }
    const unset = UNSET_LINE.exec(line);
    if (unset) values.set(unset[1]!, 'n');
  }
  return values;
}

/** An option a fragment asked for that the final .config does not carry. */
export interface ConfigMismatch {
  option: string;
  fragment: string;
  requested: string;
  got: string;
}

/**
 * Options a fragment requests but olddefconfig dropped or changed (usually an unmet
 * `depends on`). An absent option counts as "n", as Kconfig reads it.
 */
export function findDroppedOptions(
  requests: ReadonlyArray<{ fragment: string; values: KconfigValues }>,
  final: KconfigValues,
): ConfigMismatch[] {
  const mismatches: ConfigMismatch[] = [];
  for (const { fragment, values } of requests) {
    for (const [option, requested] of values) {
      const got = final.get(option) ?? 'n';
      if (got !== requested) mismatches.push({ option, fragment, requested, got: final.has(option) ? got : 'unset' });
    }
  }
  return mismatches;
}

export function formatMismatches(mismatches: readonly ConfigMismatch[]): string {
  return mismatches
    .map((m) => `  ${m.option}: requested ${m.requested} (${m.fragment}), got ${m.got}`)
    .join('\n');
}
