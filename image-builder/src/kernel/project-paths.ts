// Where the repository's kernel-config/ lives, from source (image-builder/src/kernel) or from the
// bundle (dist/). Found by walking up, so both layouts work without configuration.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function findKernelConfigDir(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'kernel-config');
    if (existsSync(join(candidate, 'source.json'))) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`find kernel-config/source.json above ${start}: not found (pass --config-dir)`);
}
