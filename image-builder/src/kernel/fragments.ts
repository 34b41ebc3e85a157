// The kernel config fragments under kernel-config/fragments, one file per concern.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseKconfig, type KconfigValues } from './kconfig';

export interface ConfigFragment {
  /** File name, e.g. "vsock.config". */
  name: string;
  path: string;
  text: string;
  values: KconfigValues;
}

/** All fragments in name order (the order merge_config.sh applies them in). */
export async function loadFragments(fragmentsDir: string): Promise<ConfigFragment[]> {
  let names: string[];
  try {
    names = (await readdir(fragmentsDir)).filter((n) => n.endsWith('.config')).sort();
  } catch (err) {
    throw new Error(`read kernel config fragments in ${fragmentsDir}: ${(err as Error).message}`);
  }
  if (names.length === 0) throw new Error(`read kernel config fragments in ${fragmentsDir}: no *.config files`);
  return Promise.all(
    names.map(async (name) => {
      const path = join(fragmentsDir, name);
      const text = await readFile(path, 'utf8');
      return { name, path, text, values: parseKconfig(text) };
    }),
  );
}
