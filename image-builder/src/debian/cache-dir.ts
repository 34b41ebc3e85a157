import os from 'node:os';
import path from 'node:path';

/** ${XDG_CACHE_HOME:-~/.cache}/kata-node-agent: downloaded .debs and their extracted trees. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'kata-node-agent');
}
