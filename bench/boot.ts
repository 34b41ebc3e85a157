// Boot benchmark (QEMU, TCG here): time to init-ready for an initramfs and a rootfs image next to
// a busybox-initramfs baseline on the same kernel, measured in the same run, printed as ratios.
//   node bench/run.mjs boot [--rounds N] [--accel auto|kvm|tcg]
//     [--initrd FILE --image FILE --ready REGEX]   (extra guests, e.g. the Node rootfs; REGEX
//                                                   matches the console line that means ready;
//                                                   a capture group, if any, is the guest uptime)
//     [--no-node]   skip the rows with the host's node binary in the guest
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildImage } from '../image-builder/src/image';
import { ensureKernel, type KernelArtifacts } from '../image-builder/src/kernel';
import { bootVm, type BootMedia } from '../image-builder/src/qemu';
import { addHostBinary, packExt4Disk, packInitrd, READY_PATTERN, writeBusyboxTree } from '../test/vm/busybox-guest';

// Node's first start in the guest (the floor an agent builds on): printed with the guest uptime.
const NODE_READY = /NODE_READY uptime=([\d.]+)/;
const NODE_COMMANDS = `/usr/bin/node -e 'console.log("NODE_READY uptime=" + require("fs").readFileSync("/proc/uptime", "utf8").split(" ")[0])'`;

interface Variant {
  name: string;
  kernel: 'vmlinux' | 'bzImage';
  /** Kata's `quiet`: under TCG every console byte is an emulated UART write. */
  quiet?: boolean;
  media: BootMedia;
  machine?: 'microvm' | 'q35';
  ready: RegExp;
}

interface Sample {
  /** Guest uptime at the ready line when the guest prints it (our test init does). */
  guestReadyS?: number;
  wallReadyMs: number;
  wallExitMs: number;
}

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    accel: { type: 'string', default: 'tcg' },
    initrd: { type: 'string' },
    image: { type: 'string' },
    ready: { type: 'string' },
    'no-node': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const accel = values.accel as 'auto' | 'kvm' | 'tcg';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function measure(kernel: KernelArtifacts, v: Variant): Promise<Sample> {
  const started = Date.now();
  const vm = await bootVm({ kernel: kernel[v.kernel], media: v.media, machine: v.machine, quiet: v.quiet, accel, agentChannel: 'none', timeoutMs: 180_000 });
  const match = await vm.waitForConsole(v.ready, 180_000);
  const wallReadyMs = Date.now() - started;
  const exit = await vm.exited;
  if (!exit.shutdown || exit.panicked) throw new Error(`${v.name}: QEMU exited ${exit.code}, panic ${exit.panicked}`);
  const uptime = match[1] !== undefined ? Number(match[1]) : undefined;
  return { guestReadyS: uptime, wallReadyMs, wallExitMs: exit.wallMs };
}

const work = await mkdtemp(join(tmpdir(), 'bench-boot-'));
try {
  const t0 = Date.now();
  const kernel = await ensureKernel({ log: (m) => process.stderr.write(`[kernel] ${m}\n`) });
  const warmMs = Date.now() - t0;
  const kernelBytes = (await stat(kernel.bzImage)).size;
  console.log(
    `kernel ${kernel.key} (${kernel.sourcePackage} ${kernel.sourceVersion}): bzImage ${(kernelBytes / 1048576).toFixed(2)} MiB, ` +
      `built in ${kernel.buildSeconds} s, this call ${kernel.fromCache ? `cache hit in ${warmMs} ms` : 'built it'}`,
  );

  const tree = join(work, 'tree');
  await writeBusyboxTree(tree);
  await packInitrd(tree, join(work, 'busybox.cpio.gz'));
  await packExt4Disk(tree, join(work, 'busybox.img'));
  await buildImage({ rootfsDir: tree, output: join(work, 'busybox-dax.img'), layout: 'dax' });
  const initrd: BootMedia = { kind: 'initrd', initrd: join(work, 'busybox.cpio.gz') };
  const variants: Variant[] = [
    { name: 'busybox initrd, q35, vmlinux (baseline)', kernel: 'vmlinux', media: initrd, ready: READY_PATTERN },
    { name: 'busybox initrd, q35, vmlinux, quiet', kernel: 'vmlinux', media: initrd, quiet: true, ready: READY_PATTERN },
    { name: 'busybox initrd, q35, bzImage', kernel: 'bzImage', media: initrd, ready: READY_PATTERN },
    { name: 'busybox initrd, microvm, vmlinux', kernel: 'vmlinux', media: initrd, machine: 'microvm', ready: READY_PATTERN },
    {
      name: 'busybox ext4 image, virtio-blk, q35',
      kernel: 'vmlinux',
      media: { kind: 'image', image: join(work, 'busybox.img'), attach: 'virtio-blk' },
      ready: READY_PATTERN,
    },
    {
      name: 'busybox ext4 image (Kata DAX layout), nvdimm + dax, q35',
      kernel: 'vmlinux',
      media: { kind: 'image', image: join(work, 'busybox-dax.img'), attach: 'nvdimm' },
      ready: READY_PATTERN,
    },
  ];
  if (!values['no-node']) {
    const nodeTree = join(work, 'node-tree');
    await writeBusyboxTree(nodeTree, { commands: NODE_COMMANDS });
    await addHostBinary(nodeTree, '/usr/bin/node');
    await packInitrd(nodeTree, join(work, 'node.cpio.gz'));
    await buildImage({ rootfsDir: nodeTree, output: join(work, 'node-dax.img'), layout: 'dax' });
    const nodeDax: BootMedia = { kind: 'image', image: join(work, 'node-dax.img'), attach: 'nvdimm' };
    variants.push(
      { name: 'node -e first start: initrd (gzip -1), q35', kernel: 'vmlinux', media: { kind: 'initrd', initrd: join(work, 'node.cpio.gz') }, ready: NODE_READY },
      { name: 'node -e first start: ext4 image, nvdimm + dax', kernel: 'vmlinux', media: nodeDax, ready: NODE_READY },
      { name: 'node -e first start: ext4 image, virtio-blk', kernel: 'vmlinux', media: { ...nodeDax, attach: 'virtio-blk' }, ready: NODE_READY },
    );
  }
  const ready = values.ready ? new RegExp(values.ready) : READY_PATTERN;
  if (values.initrd) variants.push({ name: `initrd ${values.initrd}`, kernel: 'vmlinux', media: { kind: 'initrd', initrd: values.initrd }, ready });
  if (values.image) {
    const image = values.image;
    variants.push({ name: `image ${image}, nvdimm dax`, kernel: 'vmlinux', media: { kind: 'image', image, attach: 'nvdimm' }, ready });
    variants.push({ name: `image ${image}, virtio-blk`, kernel: 'vmlinux', media: { kind: 'image', image, attach: 'virtio-blk' }, ready });
  }

  const rows: { name: string; guest?: number; ready: number; exit: number }[] = [];
  for (const v of variants) {
    const samples: Sample[] = [];
    for (let i = 0; i < rounds; i++) samples.push(await measure(kernel, v));
    const guest = samples.every((s) => s.guestReadyS !== undefined) ? median(samples.map((s) => s.guestReadyS!)) : undefined;
    rows.push({ name: v.name, guest, ready: median(samples.map((s) => s.wallReadyMs)), exit: median(samples.map((s) => s.wallExitMs)) });
  }

  const base = rows[0]!;
  console.log(`\nboot to init-ready, ${accel}, median of ${rounds} (ratios against the first row):`);
  console.log('guest uptime | x base | wall to ready | x base | wall to QEMU exit | variant');
  for (const r of rows) {
    const g = r.guest === undefined ? '     -' : `${r.guest.toFixed(2)} s`;
    const gr = r.guest === undefined || base.guest === undefined ? '   -' : (r.guest / base.guest).toFixed(2);
    console.log(
      `${g.padStart(12)} | ${gr.padStart(6)} | ${`${(r.ready / 1000).toFixed(2)} s`.padStart(13)} | ${(r.ready / base.ready).toFixed(2).padStart(6)} | ` +
        `${`${(r.exit / 1000).toFixed(2)} s`.padStart(17)} | ${r.name}`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
