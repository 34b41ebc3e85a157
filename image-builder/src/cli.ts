// kata-image-builder: builds the guest rootfs tree, initrd and image; `kernel` and `boot` are
// implemented in ./kernel and ./qemu and loaded on demand.
import path from 'node:path';
import { imageCommand, IMAGE_FLAGS } from './image/command';
import { initrdCommand, INITRD_FLAGS } from './initrd/command';
import { parseFlags, stringFlag, UsageError, type FlagValues } from './progress/cli-args';
import { rootfsCommand, ROOTFS_FLAGS } from './rootfs/command';

const USAGE = `usage: image-builder <command> [options]

commands:
  rootfs   assemble the guest tree from rootfs/guest.json
           --declaration FILE (rootfs/guest.json)  --out DIR (out/rootfs)
           --init agent|test-shell (agent)  --cache DIR (\${XDG_CACHE_HOME:-~/.cache}/kata-node-agent)
           --export-tar FILE  --import-tar FILE (use a tarball instead of the declaration)
  initrd   pack a tree as a reproducible newc cpio initrd
           --rootfs DIR (out/rootfs)  --out FILE (out/initrd.img)
           --compression zstd|gzip|none (zstd)  --level N (zstd 19, gzip 9)
  image    make a reproducible rootfs image (no root, no loop devices)
           --rootfs DIR (out/rootfs)  --out FILE (out/rootfs.img)  --fs ext4|erofs (ext4)
           --layout dax|disk|raw (dax: Kata's nvdimm layout)  --journal  --uuid UUID
  all      rootfs, then initrd and image, into --out-dir DIR (out); takes the options above
  kernel   build the guest kernel (see: image-builder kernel --help)
  boot     boot the kernel with an initrd or image under QEMU (see: image-builder boot --help)
  virtiofsd  provision virtiofsd for virtio-fs boots and print its command (see: image-builder virtiofsd --help)
  remote-hypervisor  serve Kata's remote hypervisor protocol: Kata's shim runs pods in VMs of our image (see: --help)
  kata-config  write a Kata configuration.toml pointing at our kernel and image, or at remote-hypervisor (see: --help)

Reproducible outputs use $SOURCE_DATE_EPOCH (default 0) for every timestamp.
Progress goes to stderr; initrd and image print a JSON result on stdout.`;

type Command = (argv: string[]) => Promise<number>;

/** Loads a subcommand that lives in a module another part of the builder provides. */
function delegated(modulePath: 'kernel' | 'qemu', exportName: 'kernelMain' | 'bootMain'): Command {
  return async (argv) => {
    let mod: Record<string, unknown>;
    try {
      mod = exportName === 'kernelMain' ? await import('./kernel/cli') : await import('./qemu/cli');
    } catch (e) {
      throw new Error(`${exportName === 'kernelMain' ? 'kernel' : 'boot'}: image-builder/src/${modulePath}/cli.ts is not available (${(e as Error).message})`);
    }
    const main = mod[exportName];
    if (typeof main !== 'function') throw new Error(`image-builder/src/${modulePath}/cli.ts does not export ${exportName}`);
    return (main as Command)(argv);
  };
}

/** `all`: rootfs, then initrd and image, into one output directory; passes the options on. */
async function allCommand(argv: string[]): Promise<number> {
  const values = parseFlags(argv, { ...ROOTFS_FLAGS, ...INITRD_FLAGS, ...IMAGE_FLAGS, 'out-dir': { type: 'string' } });
  const outDir = stringFlag(values, 'out-dir') ?? 'out';
  const rootfsDir = path.join(outDir, 'rootfs');
  const pass = (flags: object) => forward(values, Object.keys(flags));
  await rootfsCommand(['--out', rootfsDir, ...pass(ROOTFS_FLAGS)]);
  await initrdCommand(['--rootfs', rootfsDir, '--out', path.join(outDir, 'initrd.img'), ...pass(INITRD_FLAGS)]);
  await imageCommand(['--rootfs', rootfsDir, '--out', path.join(outDir, 'rootfs.img'), ...pass(IMAGE_FLAGS)]);
  return 0;
}

function forward(values: FlagValues, names: string[]): string[] {
  const args: string[] = [];
  for (const name of names) {
    const v = values[name];
    if (v === true) args.push(`--${name}`);
    else if (typeof v === 'string') args.push(`--${name}`, v);
  }
  return args;
}

const COMMANDS: Record<string, Command> = {
  rootfs: rootfsCommand,
  initrd: initrdCommand,
  image: imageCommand,
  all: allCommand,
  kernel: delegated('kernel', 'kernelMain'),
  boot: delegated('qemu', 'bootMain'),
  virtiofsd: async (argv) => (await import('./virtiofsd/cli')).virtiofsdMain(argv),
  'remote-hypervisor': async (argv) => (await import('./remote-hypervisor/cli')).remoteHypervisorMain(argv),
  'kata-config': async (argv) => (await import('./kata-config/cli')).kataConfigMain(argv),
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`image-builder: unknown command ${JSON.stringify(name)}\n${USAGE}\n`);
    return 2;
  }
  if ((rest.includes('--help') || rest.includes('-h')) && !['kernel', 'boot', 'virtiofsd', 'remote-hypervisor', 'kata-config'].includes(name)) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    return await command(rest);
  } catch (e) {
    process.stderr.write(`image-builder ${name}: ${(e as Error).message}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
