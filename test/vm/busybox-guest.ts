// A minimal busybox guest for VM tests and the boot benchmark: a static busybox, its applet links,
// and an init script that mounts the basics, prints a ready marker with the guest uptime, runs the
// caller's commands, prints its exit status and powers off. Packed with Debian's tools (cpio,
// mkfs.ext4 -d), no root needed.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, open, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const READY_MARKER = 'KATA_TEST_INIT_READY';
export const READY_PATTERN = /KATA_TEST_INIT_READY uptime=([\d.]+)/;

export interface GuestScript {
  /** Shell run after the ready marker; its exit status is printed as KATA_GUEST_EXIT_STATUS. */
  commands?: string;
}

function initScript(script: GuestScript): string {
  return `#!/bin/sh
# Test init: basics, ready marker, the test's commands, status, power off.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
grep -q ' /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
echo "${READY_MARKER} uptime=$(cut -d' ' -f1 /proc/uptime)"
run_test() {
${script.commands ?? 'true'}
}
run_test
echo "KATA_GUEST_EXIT_STATUS=$?"
poweroff -f
`;
}

/** Writes the guest tree into `dir` with /init and /sbin/init both running the test script. */
export async function writeBusyboxTree(dir: string, script: GuestScript = {}): Promise<void> {
  for (const sub of ['bin', 'sbin', 'proc', 'sys', 'dev', 'tmp', 'mnt', 'etc']) await mkdir(join(dir, sub), { recursive: true });
  await copyFile('/bin/busybox', join(dir, 'bin/busybox'));
  const { stdout } = await run('/bin/busybox', ['--list']);
  for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) {
    await symlink('busybox', join(dir, 'bin', applet)).catch(() => {});
  }
  await writeFile(join(dir, 'init'), initScript(script));
  await chmod(join(dir, 'init'), 0o755);
  await symlink('../init', join(dir, 'sbin/init'));
}

/** newc cpio of `dir`, gzip -1 (what the kernel unpacks as an initramfs). */
export async function packInitrd(dir: string, out: string): Promise<void> {
  await run('sh', ['-c', 'cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1 > "$2"', 'sh', dir, out]);
}

/** A classic MBR with one Linux (0x83) partition; LBA only (CHS fields 0xfe/0xff as "use LBA"). */
async function writeMbr(path: string, startSector: number, sectors: number): Promise<void> {
  const mbr = Buffer.alloc(512);
  const entry = 446;
  mbr.set([0x00, 0xfe, 0xff, 0xff, 0x83, 0xfe, 0xff, 0xff], entry);
  mbr.writeUInt32LE(startSector, entry + 8);
  mbr.writeUInt32LE(sectors, entry + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  const file = await open(path, 'r+');
  try {
    await file.write(mbr, 0, 512, 0);
  } finally {
    await file.close();
  }
}

/**
 * A disk image like Kata's rootfs disk: an MBR with one Linux partition at 1 MiB holding ext4
 * made from `dir` with mkfs.ext4 -d. The size is a multiple of 2 MiB so it also fits an nvdimm.
 */
export async function packExt4Disk(dir: string, out: string, fsMiB = 16): Promise<void> {
  const diskMiB = Math.ceil((1 + fsMiB) / 2) * 2;
  await run('truncate', ['-s', `${diskMiB}M`, out]);
  await writeMbr(out, 2048, fsMiB * 2048);
  await run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', dir, '-E', `offset=${1 << 20}`, out, `${fsMiB * 1024}k`]);
}

/**
 * Copies a host binary and the libraries ldd resolves for it to the same paths under `tree`
 * (a test shortcut; the product's rootfs builder walks DT_NEEDED from Debian packages).
 */
export async function addHostBinary(tree: string, binary: string): Promise<void> {
  const { stdout } = await run('ldd', [binary]);
  const paths = [binary, ...[...stdout.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!)];
  for (const path of paths) {
    await mkdir(join(tree, dirname(path)), { recursive: true });
    await copyFile(path, join(tree, path));
  }
}
