// An exclusive lock on a shared build directory (parallel test workers may ask for the kernel at
// once). The lock file holds the owner's pid; a lock whose owner died is taken over.
import { watch } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tryAcquire(path: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx');
    await handle.writeFile(String(process.pid));
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) return false;
  await rm(path, { force: true });
  return tryAcquire(path);
}

/** Resolves when `path` is removed (or after `timeoutMs` so the caller re-checks the owner). */
function lockReleased(path: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(dirname(path), (_event, name) => {
      if (name === basename(path)) done();
    });
    const timer = setTimeout(done, timeoutMs);
    function done(): void {
      clearTimeout(timer);
      watcher.close();
      resolve();
    }
  });
}

export async function withLock<T>(path: string, waitMs: number, onWait: () => void, body: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  let told = false;
  while (!(await tryAcquire(path))) {
    if (Date.now() > deadline) throw new Error(`lock ${path}: still held after ${Math.round(waitMs / 1000)} s`);
    if (!told) onWait();
    told = true;
    await lockReleased(path, 10_000);
  }
  try {
    return await body();
  } finally {
    await rm(path, { force: true });
  }
}
