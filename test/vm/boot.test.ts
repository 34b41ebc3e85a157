// Dev boots under QEMU (TCG here): our kernel with an initramfs, and with a rootfs disk image on
// virtio-blk and on an nvdimm; the guest's init prints a marker and powers off; QEMU exits 0.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import { bootVm } from '../../image-builder/src/qemu';
import { packExt4Disk, packInitrd, READY_PATTERN, writeBusyboxTree } from './busybox-guest';
import { KERNEL_BUILD_TIMEOUT_MS, qemuMissingReason, testKernel, withTempDir } from './vm-fixture';
import { skipUnlessAvailable } from '../helpers/requirement';

const skipReason = qemuMissingReason();
if (skipReason) console.warn(`skipping VM boot tests: ${skipReason}`);

const BOOT_MS = 60_000;
const run = promisify(execFile);

// The agent finds its port by name in sysfs (no udev in the guest to make /dev/virtio-ports/).
const FIND_AGENT_PORT = `
for p in /sys/class/virtio-ports/*; do
  [ "$(cat $p/name)" = agent.channel.0 ] && port=/dev/\${p##*/}
done
`;

describe.skipIf(skipUnlessAvailable(skipReason))('VM boot', () => {
  let kernel: KernelArtifacts;
  beforeAll(async () => {
    kernel = await testKernel();
  }, KERNEL_BUILD_TIMEOUT_MS);

  it(
    'boots an initramfs, talks over the agent virtio-serial port, powers off with QEMU exiting 0',
    async () => {
      await withTempDir('vm-initrd-', async (dir) => {
        await writeBusyboxTree(join(dir, 'tree'), {
          commands: `${FIND_AGENT_PORT}
read -r line < $port
echo "pong:$line" > $port
`,
        });
        await packInitrd(join(dir, 'tree'), join(dir, 'initrd.gz'));
        const vm = await bootVm({
          kernel: kernel.vmlinux,
          media: { kind: 'initrd', initrd: join(dir, 'initrd.gz') },
          agentChannel: 'serial',
          timeoutMs: BOOT_MS,
        });
        expect(vm.machine).toBe('q35');
        await vm.waitForConsole(READY_PATTERN, BOOT_MS);
        const reply = await new Promise<string>((resolve, reject) => {
          const socket = connect(vm.agentSocketPath!);
          let got = '';
          socket.on('connect', () => socket.write('ping\n'));
          socket.on('data', (d) => {
            got += d.toString();
            if (got.includes('\n')) {
              socket.destroy();
              resolve(got.trim());
            }
          });
          socket.on('error', reject);
        });
        expect(reply).toBe('pong:ping');
        const exit = await vm.exited;
        expect(exit).toMatchObject({ code: 0, panicked: false, timedOut: false, guestStatus: 0, shutdown: 'power-off' });
      });
    },
    BOOT_MS * 2,
  );

  it(
    'boots the bzImage on microvm with an ext4 image on virtio-mmio blk as a read-only /dev/vda1 root; it powers off',
    async () => {
      await withTempDir('vm-blk-', async (dir) => {
        await writeBusyboxTree(join(dir, 'tree'), { commands: 'cat /proc/mounts' });
        await packExt4Disk(join(dir, 'tree'), join(dir, 'disk.img'));
        const vm = await bootVm({
          kernel: kernel.bzImage,
          media: { kind: 'image', image: join(dir, 'disk.img'), attach: 'virtio-blk' },
          machine: 'microvm',
          accel: 'tcg',
          agentChannel: 'none',
          timeoutMs: BOOT_MS,
        });
        const exit = await vm.exited;
        // ACPI stays on (the guest is told the host TSC rate), so the guest powers off and QEMU exits 0.
        expect(exit).toMatchObject({ code: 0, panicked: false, timedOut: false, guestStatus: 0, shutdown: 'power-off' });
        // The kernel names the root device /dev/root in /proc/mounts; its own message names vda1.
        expect(vm.consoleLines.some((l) => /EXT4-fs \(vda1\): mounted/.test(l))).toBe(true);
        expect(vm.consoleLines.some((l) => /^\/dev\/root \/ ext4 ro[,\s]/.test(l))).toBe(true);
        // devtmpfs was mounted by the kernel (DEVTMPFS_MOUNT), not by our init.
        expect(vm.consoleLines.some((l) => /^devtmpfs \/dev devtmpfs/.test(l))).toBe(true);
      });
    },
    BOOT_MS * 2,
  );

  it(
    'attaches an extra virtio-blk disk and a 9p share, with the console on hvc0 as Kata has it',
    async () => {
      await withTempDir('vm-extra-', async (dir) => {
        await mkdir(join(dir, 'share'));
        await writeFile(join(dir, 'share', 'hello.txt'), 'from-the-9p-share\n');
        await mkdir(join(dir, 'disk'));
        await writeFile(join(dir, 'disk', 'disk.txt'), 'from-the-extra-disk\n');
        await run('mkfs.ext4', ['-q', '-F', '-d', join(dir, 'disk'), join(dir, 'disk.img'), '4M']);
        await writeBusyboxTree(join(dir, 'tree'), {
          commands: `
mount -t 9p -o trans=virtio,version=9p2000.L hostshare /mnt && cat /mnt/hello.txt
mkdir -p /disk && mount -t ext4 -o ro /dev/vda /disk && cat /disk/disk.txt
cat /sys/class/tty/console/active
`,
        });
        await packInitrd(join(dir, 'tree'), join(dir, 'initrd.gz'));
        const vm = await bootVm({
          kernel: kernel.vmlinux,
          media: { kind: 'initrd', initrd: join(dir, 'initrd.gz') },
          accel: 'tcg',
          console: 'hvc',
          agentChannel: 'none',
          disks: [{ path: join(dir, 'disk.img'), readonly: true }],
          shares: [{ tag: 'hostshare', path: join(dir, 'share'), readonly: true }],
          timeoutMs: BOOT_MS,
        });
        const exit = await vm.exited;
        // The kernel's power-off message comes after virtio-console is shut down: QEMU's 0 is the proof.
        expect(exit, vm.consoleLines.slice(-20).join('\n')).toMatchObject({ code: 0, guestStatus: 0, panicked: false });
        expect(vm.consoleLines).toContain('from-the-9p-share');
        expect(vm.consoleLines).toContain('from-the-extra-disk');
        expect(vm.consoleLines).toContain('hvc0');
        // hvc0 only exists once virtio-console probes: no early boot lines from the 8250.
        expect(vm.consoleLines.some((l) => /Linux version/.test(l))).toBe(false);
      });
    },
    BOOT_MS * 2,
  );

  it(
    'ends the run when the kernel panics (panic=1 with -no-reboot) and reports it',
    async () => {
      await withTempDir('vm-panic-', async (dir) => {
        await writeBusyboxTree(join(dir, 'tree'));
        await packInitrd(join(dir, 'tree'), join(dir, 'initrd.gz'));
        // init exits at once: "Attempted to kill init" panics the kernel.
        const vm = await bootVm({
          kernel: kernel.vmlinux,
          media: { kind: 'initrd', initrd: join(dir, 'initrd.gz') },
          accel: 'tcg',
          agentChannel: 'none',
          extraCmdline: ['rdinit=/bin/true'],
          timeoutMs: BOOT_MS,
        });
        const exit = await vm.exited;
        expect(exit.panicked).toBe(true);
        expect(exit.timedOut).toBe(false);
        expect(exit.guestStatus).toBeUndefined();
      });
    },
    BOOT_MS * 2,
  );

  it('refuses a missing image with the operation and the path, before starting QEMU', async () => {
    await expect(
      bootVm({ kernel: kernel.vmlinux, media: { kind: 'image', image: '/nonexistent/rootfs.img', attach: 'nvdimm' }, accel: 'tcg' }),
    ).rejects.toThrow('boot VM: image /nonexistent/rootfs.img: ENOENT');
  });

  // A guest that never ends on its own, for the tests of how the handle ends QEMU.
  let sleeperDir: string;
  beforeAll(async () => {
    sleeperDir = await mkdtemp(join(tmpdir(), 'vm-sleeper-'));
    await writeBusyboxTree(join(sleeperDir, 'tree'), { commands: 'sleep 600' });
    await packInitrd(join(sleeperDir, 'tree'), join(sleeperDir, 'initrd.gz'));
  });
  afterAll(() => rm(sleeperDir, { recursive: true, force: true }));
  const bootSleeper = (opts: { timeoutMs?: number }) =>
    bootVm({ kernel: kernel.vmlinux, media: { kind: 'initrd', initrd: join(sleeperDir, 'initrd.gz') }, accel: 'tcg', agentChannel: 'none', ...opts });

  it(
    'kills a guest that outlives timeoutMs and says so',
    async () => {
      const vm = await bootSleeper({ timeoutMs: 1500 });
      const exit = await vm.exited;
      expect(exit).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
      expect(exit.guestStatus).toBeUndefined();
      expect(() => process.kill(vm.pid, 0)).toThrow(/ESRCH/);
    },
    BOOT_MS,
  );

  it(
    'stop() kills a running guest and leaves no QEMU behind',
    async () => {
      const vm = await bootSleeper({});
      await vm.waitForConsole(READY_PATTERN, BOOT_MS);
      const exit = await vm.stop();
      expect(exit.stopped).toBe(true);
      expect(exit.guestStatus).toBeUndefined();
      expect(() => process.kill(vm.pid, 0)).toThrow(/ESRCH/);
    },
    BOOT_MS * 2,
  );
});
