// `image-builder boot`: a dev boot of our kernel with an initrd or a rootfs image. The console
// goes to the terminal (or a file); the exit code is the guest's printed status, else QEMU's.
import { parseArgs } from 'node:util';
import { ensureKernel } from '../kernel/build-kernel';
import path from 'node:path';
import type { BootMedia, BootOptions, ExtraDisk, NinePShare, VirtioFsShare } from './boot-options';
import { bootVm } from './boot-vm';

const USAGE = `usage: image-builder boot (--initrd FILE | --image FILE [--attach nvdimm|virtio-blk] [--no-dax])
    [--kernel FILE] [--machine microvm|q35] [--accel auto|kvm|tcg] [--memory MiB] [--cpus N]
    [--console serial|hvc] [--agent-channel auto|vsock|serial|none] [--init PATH] [--append ARGS]
    [--disk FILE[:ro][@PCIPATH]]... [--share TAG=DIR[:ro]]... [--virtiofs DIR[:TAG]]
    [--console-log FILE] [--timeout SECONDS] [--quiet]
  Without --kernel, builds or reuses the cached kernel from kernel-config/ and boots its vmlinux
  (PVH entry; under TCG the bzImage decompressor alone costs seconds).
  --virtiofs shares DIR over virtio-fs under TAG (default kataShared, Kata's), served by a real
  virtiofsd (the host's, else Debian trixie's, staged and cached; see image-builder virtiofsd).`;

function parseDisk(spec: string): ExtraDisk {
  // FILE[:ro][@PCIPATH]
  const at = spec.lastIndexOf('@');
  const pciPath = at > 0 ? spec.slice(at + 1) : undefined;
  const body = at > 0 ? spec.slice(0, at) : spec;
  const readonly = body.endsWith(':ro');
  return { path: readonly ? body.slice(0, -3) : body, readonly, ...(pciPath !== undefined ? { pciPath } : {}) };
}

function parseShare(spec: string): NinePShare {
  const readonly = spec.endsWith(':ro');
  const body = readonly ? spec.slice(0, -3) : spec;
  const eq = body.indexOf('=');
  if (eq <= 0) throw new Error(`--share wants TAG=DIR, got ${spec}`);
  return { tag: body.slice(0, eq), path: body.slice(eq + 1), readonly };
}

/** DIR[:TAG]; a last ":" part without a "/" is the tag. */
export function parseVirtioFs(spec: string): VirtioFsShare {
  const colon = spec.lastIndexOf(':');
  const tagGiven = colon > 0 && !spec.slice(colon + 1).includes('/');
  const dir = tagGiven ? spec.slice(0, colon) : spec;
  const tag = tagGiven ? spec.slice(colon + 1) : 'kataShared';
  if (!dir || !tag) throw new Error(`--virtiofs wants DIR[:TAG], got ${spec}`);
  return { tag, sharedDir: path.resolve(dir) };
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`${flag} wants one of ${allowed.join(', ')}, got ${value}`);
  return value as T;
}

export async function bootMain(argv: string[]): Promise<number> {
  let opts: BootOptions;
  let kernelPath: string | undefined;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        image: { type: 'string' },
        attach: { type: 'string' },
        'no-dax': { type: 'boolean', default: false },
        machine: { type: 'string' },
        accel: { type: 'string' },
        memory: { type: 'string' },
        cpus: { type: 'string' },
        console: { type: 'string' },
        'agent-channel': { type: 'string' },
        init: { type: 'string' },
        append: { type: 'string' },
        disk: { type: 'string', multiple: true },
        share: { type: 'string', multiple: true },
        virtiofs: { type: 'string' },
        'console-log': { type: 'string' },
        timeout: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (!values.initrd === !values.image) throw new Error('give exactly one of --initrd and --image');
    const media: BootMedia = values.initrd
      ? { kind: 'initrd', initrd: values.initrd }
      : {
          kind: 'image',
          image: values.image!,
          attach: oneOf('--attach', values.attach, ['nvdimm', 'virtio-blk'] as const) ?? 'nvdimm',
          dax: !values['no-dax'],
        };
    const positive = (flag: string, v: string | undefined): number | undefined => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!(n > 0)) throw new Error(`${flag} wants a positive number, got ${v}`);
      return n;
    };
    kernelPath = values.kernel;
    opts = {
      kernel: '',
      media,
      machine: oneOf('--machine', values.machine, ['microvm', 'q35'] as const),
      accel: oneOf('--accel', values.accel, ['auto', 'kvm', 'tcg'] as const),
      memoryMiB: positive('--memory', values.memory),
      cpus: positive('--cpus', values.cpus),
      console: oneOf('--console', values.console, ['serial', 'hvc'] as const),
      agentChannel: oneOf('--agent-channel', values['agent-channel'], ['auto', 'vsock', 'serial', 'none'] as const),
      init: values.init,
      quiet: values.quiet,
      extraCmdline: values.append ? values.append.split(/\s+/).filter(Boolean) : undefined,
      disks: (values.disk ?? []).map(parseDisk),
      shares: (values.share ?? []).map(parseShare),
      virtioFs: values.virtiofs !== undefined ? parseVirtioFs(values.virtiofs) : undefined,
      consoleLog: values['console-log'],
      echoConsole: values['console-log'] ? undefined : process.stdout,
      timeoutMs: values.timeout ? positive('--timeout', values.timeout)! * 1000 : undefined,
    };
  } catch (err) {
    process.stderr.write(`boot: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }

  try {
    opts.kernel =
      kernelPath ?? (await ensureKernel({ log: (m) => process.stderr.write(`[kernel] ${m}\n`) })).vmlinux;
    const vm = await bootVm(opts);
    process.stderr.write(`[boot] ${vm.machine} ${vm.accel} pid ${vm.pid}`);
    if (vm.agentSocketPath) process.stderr.write(`, agent channel: unix socket ${vm.agentSocketPath}`);
    if (vm.vsockCid !== undefined) process.stderr.write(`, agent channel: vsock cid ${vm.vsockCid}`);
    if (vm.virtiofsd) process.stderr.write(`, virtio-fs ${opts.virtioFs!.sharedDir} as ${opts.virtioFs!.tag} (virtiofsd pid ${vm.virtiofsd.pid})`);
    process.stderr.write('\n');
    const interrupt = (): void => void vm.stop();
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    const exit = await vm.exited;
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    const how = exit.timedOut
      ? 'timed out'
      : exit.stopped
        ? 'stopped'
        : exit.panicked
          ? 'ended by a kernel panic'
          : `ended (guest ${exit.shutdown ?? 'gave no shutdown message'})`;
    process.stderr.write(
      `[boot] QEMU ${how} after ${(exit.wallMs / 1000).toFixed(2)} s, code ${exit.code ?? exit.signal}` +
        `${exit.guestStatus !== undefined ? `, guest status ${exit.guestStatus}` : ''}\n`,
    );
    if (exit.timedOut || exit.panicked) return 1;
    if (exit.guestStatus !== undefined) return exit.guestStatus;
    return exit.shutdown ? 0 : (exit.code ?? 1);
  } catch (err) {
    process.stderr.write(`boot: ${(err as Error).message}\n`);
    return 1;
  }
}
