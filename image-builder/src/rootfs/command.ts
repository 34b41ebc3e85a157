import { choiceFlag, parseFlags, stringFlag } from '../progress/cli-args';
import { formatBytes, stderrProgress } from '../progress/progress';
import { buildRootfs, type InitKind } from './build-rootfs';
import { exportTreeToTar, importTreeFromTar } from './tarball';

export const ROOTFS_FLAGS = {
  declaration: { type: 'string' },
  init: { type: 'string' },
  cache: { type: 'string' },
} as const;

/** `image-builder rootfs`: assemble the tree (or import it from a tarball), optionally export it. */
export async function rootfsCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { ...ROOTFS_FLAGS, out: { type: 'string' }, 'export-tar': { type: 'string' }, 'import-tar': { type: 'string' } });
  const out = stringFlag(values, 'out') ?? 'out/rootfs';
  const importTar = stringFlag(values, 'import-tar');
  if (importTar) {
    await importTreeFromTar(importTar, out, { progress: stderrProgress });
  } else {
    const result = await buildRootfs({
      declarationPath: stringFlag(values, 'declaration') ?? 'rootfs/guest.json',
      outputDir: out,
      init: choiceFlag<InitKind>(values, 'init', ['agent', 'test-shell'], 'agent'),
      cacheDir: stringFlag(values, 'cache'),
      progress: stderrProgress,
    });
    for (const c of result.closures) stderrProgress(`closure of ${c.binary}: ${c.libraries.join(' ')} (${formatBytes(c.libraryBytes)})`);
  }
  const exportTar = stringFlag(values, 'export-tar');
  if (exportTar) await exportTreeToTar(out, exportTar, { progress: stderrProgress });
  return 0;
}
