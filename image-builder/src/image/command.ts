import { choiceFlag, parseFlags, stringFlag } from '../progress/cli-args';
import { stderrProgress } from '../progress/progress';
import { buildImage, type ImageFilesystem, type ImageLayout } from './index';

export const IMAGE_FLAGS = {
  fs: { type: 'string' }, layout: { type: 'string' }, journal: { type: 'boolean' }, uuid: { type: 'string' },
} as const;

/** `image-builder image`: prints the ImageResult as JSON on stdout. */
export async function imageCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { ...IMAGE_FLAGS, rootfs: { type: 'string' }, out: { type: 'string' } });
  const result = await buildImage({
    rootfsDir: stringFlag(values, 'rootfs') ?? 'out/rootfs',
    output: stringFlag(values, 'out') ?? 'out/rootfs.img',
    filesystem: choiceFlag<ImageFilesystem>(values, 'fs', ['ext4', 'erofs'], 'ext4'),
    layout: choiceFlag<ImageLayout>(values, 'layout', ['dax', 'disk', 'raw'], 'dax'),
    journal: values.journal === true,
    uuid: stringFlag(values, 'uuid'),
    progress: stderrProgress,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}
