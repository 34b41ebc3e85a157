// Shared setup for VM tests: is QEMU here, the cached kernel, temp dirs that are removed after.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKernel, type KernelArtifacts } from '../../image-builder/src/kernel';

export const QEMU = 'qemu-system-x86_64';

export function qemuMissingReason(): string | undefined {
  const probe = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  return probe.error ? `${QEMU} not installed (apt-get install qemu-system-x86): ${probe.error.message}` : undefined;
}

/** A cold kernel build takes 5+ minutes on 2 cores; later runs hit the cache at once. */
export const KERNEL_BUILD_TIMEOUT_MS = 40 * 60_000;

export function testKernel(): Promise<KernelArtifacts> {
  return ensureKernel({ log: (m) => process.stderr.write(`[kernel] ${m}\n`) });
}

export async function withTempDir<T>(prefix: string, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
