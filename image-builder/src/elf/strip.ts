import { runTool } from '../progress/run-tool';

/**
 * Removes symbol tables and debug sections a running program never reads (binutils
 * `strip --strip-unneeded`, which keeps the dynamic symbols addons and libraries export).
 * Node from nodesource ships unstripped: this takes its binary from 99 MB to 86 MB.
 */
export async function stripElf(file: string): Promise<void> {
  await runTool('strip', ['--strip-unneeded', file]).catch((e: Error) => {
    throw new Error(`strip ${file}: ${e.message}`);
  });
}
