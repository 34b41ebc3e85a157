import { stat } from 'node:fs/promises';
import { runTool } from '../progress/run-tool';
import type { Progress } from '../progress/progress';

export interface MakeErofsOptions {
  treeDir: string;
  output: string;
  uuid: string;
  sourceDateEpoch: number;
  /** e.g. "lz4hc"; uncompressed by default so the guest can map files with DAX. */
  compressor?: string;
  progress: Progress;
}

/** A read-only erofs filesystem: fixed UUID and timestamps, every file owned by root. */
export async function makeErofs(options: MakeErofsOptions): Promise<{ bytes: number }> {
  const args = [`-T${options.sourceDateEpoch}`, `-U${options.uuid}`, '--all-root', '-x-1', '--quiet'];
  if (options.compressor) args.push(`-z${options.compressor}`);
  args.push(options.output, options.treeDir);
  options.progress(`erofs: mkfs.erofs ${args.join(' ')}`);
  try {
    await runTool('mkfs.erofs', args);
  } catch (e) {
    throw new Error(`make erofs from ${options.treeDir}: ${(e as Error).message}`);
  }
  return { bytes: (await stat(options.output)).size };
}
