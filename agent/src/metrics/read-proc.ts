// Reading /proc files for a scrape: one read each, and a file the kernel does not have (no
// /proc/diskstats without block devices, no io accounting) leaves its families out.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

export async function readProcText(procRoot: string, rel: string): Promise<string | undefined> {
  try {
    return await readFile(path.join(procRoot, rel), 'utf8');
  } catch {
    return undefined;
  }
}

export async function countEntries(dir: string): Promise<number | undefined> {
  try {
    return (await readdir(dir)).length;
  } catch {
    return undefined;
  }
}
