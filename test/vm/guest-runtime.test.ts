// The kernel config's real customers: Node 20 (libuv: epoll, eventfd, inotify, threads, child
// processes, getrandom) and crun (namespaces, cgroup v2 controllers, seccomp) must work in a guest
// on our kernel. The host's own node and crun binaries with their libraries go into an ext4 image.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import { bootVm } from '../../image-builder/src/qemu';
import { addHostBinary, packExt4Disk, writeBusyboxTree } from './busybox-guest';
import { KERNEL_BUILD_TIMEOUT_MS, qemuMissingReason, testKernel, withTempDir } from './vm-fixture';
import { skipUnlessAvailable } from '../helpers/requirement';

const run = promisify(execFile);
const BINARIES = ['/usr/bin/node', '/usr/bin/crun'];
const missing = qemuMissingReason();
const skipReason = missing ?? (await hasBinaries() ? undefined : `${BINARIES.join(' and ')} needed on the host`);

const BOOT_MS = 120_000;

async function hasBinaries(): Promise<boolean> {
  try {
    await Promise.all(BINARIES.map((b) => run(b, ['--version'])));
    return true;
  } catch {
    return false;
  }
}

const NODE_CHECK = `
const os = require('os'), fs = require('fs'), cp = require('child_process');
const { Worker } = require('worker_threads'), crypto = require('crypto');
const child = cp.spawnSync('/bin/busybox', ['echo', 'child-ok']).stdout.toString().trim();
fs.watch('/tmp', () => {}).close();
new Worker('require("worker_threads").parentPort.postMessage(6*7)', { eval: true }).on('message', (answer) => {
  console.log(['NODE_OK', process.version, os.release(), child, answer, crypto.randomBytes(8).length].join(' '));
  process.exit(0);
});
`;

const GUEST = `
mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
echo "+cpu +memory +pids +io +cpuset" > /sys/fs/cgroup/cgroup.subtree_control
echo "CONTROLLERS=$(cat /sys/fs/cgroup/cgroup.subtree_control)"
/usr/bin/node /node-check.js
crun --root /run/crun run --bundle /ctr c1
echo "CRUN_STATUS=$?"
`;

async function writeBundle(dir: string): Promise<void> {
  const rootfs = join(dir, 'rootfs');
  for (const sub of ['bin', 'proc', 'dev', 'sys', 'tmp']) await mkdir(join(rootfs, sub), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  await run('crun', ['spec'], { cwd: dir }); // crun's own default spec, adjusted below
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- an OCI spec we only poke at
  const spec = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, any>;
  spec.process.terminal = false;
  spec.process.args = [
    '/bin/busybox',
    'sh',
    '-c',
    'echo "CTR pid=$$ $(/bin/busybox cat /proc/self/cgroup) $(/bin/busybox uname -r)"; /bin/busybox mkdir /dev/x || echo SECCOMP_DENIED_MKDIR',
  ];
  spec.linux.cgroupsPath = '/c1';
  spec.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    // /dev is a writable tmpfs in the container: only the filter can make mkdir fail there.
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(spec));
}

describe.skipIf(skipUnlessAvailable(skipReason))('guest runtime on our kernel', () => {
  let kernel: KernelArtifacts;
  beforeAll(async () => {
    kernel = await testKernel();
  }, KERNEL_BUILD_TIMEOUT_MS);

  it(
    'runs Node 20 (threads, child processes, inotify) and a crun container with cgroup v2 and seccomp',
    async () => {
      await withTempDir('vm-runtime-', async (dir) => {
        const tree = join(dir, 'tree');
        await writeBusyboxTree(tree, { commands: GUEST });
        for (const binary of BINARIES) await addHostBinary(tree, binary);
        await mkdir(join(tree, 'run'));
        await writeFile(join(tree, 'node-check.js'), NODE_CHECK);
        await writeBundle(join(tree, 'ctr'));
        await packExt4Disk(tree, join(dir, 'disk.img'), 192);
        const vm = await bootVm({
          kernel: kernel.vmlinux,
          media: { kind: 'image', image: join(dir, 'disk.img'), attach: 'virtio-blk' },
          accel: 'tcg',
          agentChannel: 'none',
          timeoutMs: BOOT_MS,
        });
        const exit = await vm.exited;
        const lines = vm.consoleLines;
        const context = lines.slice(-25).join('\n');
        expect(exit, context).toMatchObject({ code: 0, panicked: false, guestStatus: 0 });
        expect(lines, context).toContain('CONTROLLERS=cpuset cpu io memory pids');
        const node = lines.find((l) => l.startsWith('NODE_OK '));
        expect(node, context).toMatch(/^NODE_OK v20\.\S+ 6\.1\.\S+ child-ok 42 8$/);
        // The container is pid 1 of its own pid namespace, in cgroup /c1, on the guest kernel, and
        // its seccomp filter denied mkdir.
        expect(lines.some((l) => /^CTR pid=1 0::\/c1 6\.1\.\S+$/.test(l)), context).toBe(true);
        expect(lines, context).toContain('SECCOMP_DENIED_MKDIR');
        expect(lines, context).toContain('CRUN_STATUS=0');
      });
    },
    BOOT_MS * 2,
  );
});
