// `image-builder kata-config`: writes a Kata configuration.toml that points Kata's runtime at our
// kernel and image (qemu variant) or at our remote-hypervisor service (remote variant).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureKernel } from '../kernel/build-kernel';
import { kataConfigToml } from './kata-config';

const USAGE = `usage: image-builder kata-config (--remote SOCKET | --qemu) [--out FILE] [--debug]
    qemu variant: [--kernel FILE] [--image FILE | --initrd FILE] [--qemu PATH] [--virtiofsd PATH]
                  [--kernel-params ARGS] [--memory MiB] [--vcpus N]
  Prints the configuration (or writes FILE). Point containerd at it with the runtime option
  ConfigPath, or ctr run --runtime-config-path FILE. Defaults: --image out/rootfs.img, the cached
  kernel's vmlinux, /usr/bin/qemu-system-x86_64, /usr/libexec/virtiofsd.`;

export async function kataConfigMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        remote: { type: 'string' },
        qemu: { type: 'boolean', default: false },
        out: { type: 'string' },
        debug: { type: 'boolean', default: false },
        kernel: { type: 'string' },
        image: { type: 'string' },
        initrd: { type: 'string' },
        'qemu-path': { type: 'string', default: '/usr/bin/qemu-system-x86_64' },
        virtiofsd: { type: 'string', default: '/usr/libexec/virtiofsd' },
        'kernel-params': { type: 'string', default: '' },
        memory: { type: 'string', default: '2048' },
        vcpus: { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (!values.remote === !values.qemu) throw new Error('give exactly one of --remote SOCKET and --qemu');
  } catch (err) {
    process.stderr.write(`kata-config: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const text = values.remote
    ? kataConfigToml({ variant: 'remote', socket: path.resolve(values.remote), debug: values.debug })
    : kataConfigToml({
        variant: 'qemu',
        kernel: values.kernel ?? (await ensureKernel({ log: (m) => process.stderr.write(`[kernel] ${m}\n`) })).vmlinux,
        ...(values.initrd ? { initrd: path.resolve(values.initrd) } : { image: path.resolve(values.image ?? 'out/rootfs.img') }),
        qemu: values['qemu-path']!,
        virtiofsd: values.virtiofsd!,
        kernelParams: values['kernel-params']!.split(/\s+/).filter(Boolean),
        memoryMiB: Number(values.memory),
        vcpus: Number(values.vcpus),
        debug: values.debug,
      });
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
  return 0;
}
