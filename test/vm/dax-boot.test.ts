// The DAX proof: Kata's image layout (2 MiB header with MBR + NVDIMM PFN info block, then the
// rootfs disk) made by buildImage, attached as an nvdimm. The guest kernel must accept the
// namespace in fsdax mode (a pfn device claims it) and mount /dev/pmem0p1 as root with dax. The
// same file must also boot on virtio-blk through the header's own MBR.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../image-builder/src/image';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import { bootVm } from '../../image-builder/src/qemu';
import { writeBusyboxTree } from './busybox-guest';
import { KERNEL_BUILD_TIMEOUT_MS, qemuMissingReason, testKernel, withTempDir } from './vm-fixture';
import { skipUnlessAvailable } from '../helpers/requirement';

const skipReason = qemuMissingReason();
if (skipReason) console.warn(`skipping DAX boot tests: ${skipReason}`);

const BOOT_MS = 90_000;

const REPORT_NVDIMM = `
cat /proc/mounts
echo "NAMESPACE_MODE=$(cat /sys/bus/nd/devices/namespace0.0/mode)"
echo "NAMESPACE_HOLDER=$(cat /sys/bus/nd/devices/namespace0.0/holder)"
for d in /sys/bus/nd/devices/pfn*; do
  [ -e "$d/namespace" ] && echo "PFN $(basename $d) namespace=$(cat $d/namespace) mode=$(cat $d/mode)"
done
`;

describe.skipIf(skipUnlessAvailable(skipReason))('DAX image boot', () => {
  let kernel: KernelArtifacts;
  beforeAll(async () => {
    kernel = await testKernel();
  }, KERNEL_BUILD_TIMEOUT_MS);

  it(
    'accepts the fsdax namespace and mounts /dev/pmem0p1 as root with dax; the file also boots on virtio-blk',
    async () => {
      await withTempDir('vm-dax-', async (dir) => {
        await writeBusyboxTree(join(dir, 'tree'), { commands: REPORT_NVDIMM });
        const image = await buildImage({ rootfsDir: join(dir, 'tree'), output: join(dir, 'rootfs.img'), layout: 'dax' });

        const nvdimm = await bootVm({
          kernel: kernel.vmlinux,
          media: { kind: 'image', image: image.path, attach: 'nvdimm' },
          accel: 'tcg',
          agentChannel: 'none',
          timeoutMs: BOOT_MS,
        });
        const exit = await nvdimm.exited;
        const lines = nvdimm.consoleLines;
        expect(exit, lines.slice(-30).join('\n')).toMatchObject({ code: 0, panicked: false, guestStatus: 0, shutdown: 'power-off' });
        // fsdax as the kernel says it (namespace_devs.c mode_show): the namespace is claimed by a
        // pfn device ("memory"), which read our info block: struct pages in RAM (PFN_MODE_RAM).
        expect(lines).toContain('NAMESPACE_MODE=memory');
        const holder = lines.find((l) => l.startsWith('NAMESPACE_HOLDER='))?.slice('NAMESPACE_HOLDER='.length);
        expect(holder).toMatch(/^pfn\d+\.\d+$/);
        expect(lines).toContain(`PFN ${holder} namespace=namespace0.0 mode=ram`);
        // /proc/mounts calls the root device /dev/root; the kernel's own message names pmem0p1.
        expect(lines.some((l) => /EXT4-fs \(pmem0p1\): mounted/.test(l))).toBe(true);
        const root = lines.find((l) => l.startsWith('/dev/root / ext4 '));
        expect(root, 'root mount line').toBeDefined();
        expect(root!.split(' ')[3]!.split(',')).toEqual(expect.arrayContaining(['ro', 'dax=always']));
        expect(lines.some((l) => /dax disabled|bad offset|init failed/.test(l))).toBe(false);

        const blk = await bootVm({
          kernel: kernel.vmlinux,
          media: { kind: 'image', image: image.path, attach: 'virtio-blk' },
          accel: 'tcg',
          agentChannel: 'none',
          timeoutMs: BOOT_MS,
        });
        const blkExit = await blk.exited;
        expect(blkExit).toMatchObject({ code: 0, panicked: false });
        expect(blk.consoleLines.some((l) => /EXT4-fs \(vda1\): mounted/.test(l))).toBe(true);
        expect(blk.consoleLines.some((l) => l.startsWith('/dev/root / ext4 ro'))).toBe(true);
      });
    },
    BOOT_MS * 3,
  );
});
