import { choiceFlag, integerFlag, parseFlags, stringFlag } from '../progress/cli-args';
import { stderrProgress } from '../progress/progress';
import { buildInitrd, type InitrdCompression } from './index';

export const INITRD_FLAGS = { compression: { type: 'string' }, level: { type: 'string' } } as const;

/** `image-builder initrd`: prints the InitrdResult as JSON on stdout. */
export async function initrdCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { ...INITRD_FLAGS, rootfs: { type: 'string' }, out: { type: 'string' } });
  const result = await buildInitrd({
    rootfsDir: stringFlag(values, 'rootfs') ?? 'out/rootfs',
    output: stringFlag(values, 'out') ?? 'out/initrd.img',
    compression: choiceFlag<InitrdCompression>(values, 'compression', ['zstd', 'gzip', 'none'], 'zstd'),
    level: integerFlag(values, 'level'),
    progress: stderrProgress,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}
