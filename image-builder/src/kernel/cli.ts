// `image-builder kernel`: build (or find in the cache) the guest kernel and print where it is.
import { parseArgs } from 'node:util';
import { ensureKernel } from './build-kernel';

const USAGE = `usage: image-builder kernel [--config-dir DIR] [--cache-dir DIR] [-j N] [--force] [--json]
  Builds bzImage from the pinned Debian kernel source and kernel-config/fragments, checking
  that every requested option survived olddefconfig; cached by source version + fragments.`;

export async function kernelMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'config-dir': { type: 'string' },
        'cache-dir': { type: 'string' },
        jobs: { type: 'string', short: 'j' },
        force: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const jobs = values.jobs === undefined ? undefined : Number.parseInt(values.jobs, 10);
  if (jobs !== undefined && !(jobs > 0)) {
    process.stderr.write(`kernel: -j wants a positive number, got ${values.jobs}\n`);
    return 2;
  }
  try {
    const kernel = await ensureKernel({
      configDir: values['config-dir'],
      cacheDir: values['cache-dir'],
      jobs,
      force: values.force,
      log: (m) => process.stderr.write(`[kernel] ${m}\n`),
    });
    if (values.json) process.stdout.write(`${JSON.stringify(kernel, null, 2)}\n`);
    else {
      process.stdout.write(
        `${kernel.fromCache ? 'cached' : 'built'} kernel ${kernel.key} (${kernel.sourcePackage} ${kernel.sourceVersion})\n` +
          `bzImage ${kernel.bzImage}\nvmlinux ${kernel.vmlinux}\nconfig  ${kernel.config}\n`,
      );
    }
    return 0;
  } catch (err) {
    process.stderr.write(`kernel: ${(err as Error).message}\n`);
    return 1;
  }
}
