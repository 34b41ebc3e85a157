import { rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Produces `output` through a temporary file in the same directory and renames it into place
 * only when `produce` succeeded, so a failed build never leaves a half-written output behind.
 */
export async function writeAtomically<T>(output: string, produce: (temporaryPath: string) => Promise<T>): Promise<T> {
  const temporaryPath = path.join(path.dirname(output), `.${path.basename(output)}.partial-${process.pid}`);
  try {
    const result = await produce(temporaryPath);
    await rename(temporaryPath, output);
    return result;
  } catch (e) {
    await rm(temporaryPath, { force: true, recursive: true });
    throw e;
  }
}
