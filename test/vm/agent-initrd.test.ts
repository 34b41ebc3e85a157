// The initrd path end to end: our rootfs with the agent as init, packed by our cpio writer, booted
// as an initramfs under TCG. The host reaches the agent over the virtio-serial channel; crun can
// pivot_root into a container (the kernel refuses that from the initramfs root itself, so
// the agent re-roots onto a bind mount first); a hard link in the tree unpacks as one inode with
// two names; DestroySandbox powers the VM off (QEMU exits 0).
//
// gzip, not zstd: the kernel has both (CONFIG_RD_GZIP, CONFIG_RD_ZSTD), but under TCG its gzip
// inflate is cheaper to emulate. Measured here, QEMU CPU time from start to a power-off right
// after unpacking (rdinit=/bin/busybox -- poweroff -f), 3 runs each: gzip 3.5-3.7 s, zstd -19
// 4.2-4.3 s, for 38.9 MB gzip against 28.7 MB zstd. Both large-file segments are cached across runs.
import { link, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import { buildInitrd } from '../../image-builder/src/initrd';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import { buildRootfs } from '../../image-builder/src/rootfs/build-rootfs';
import { bootAgent, consoleRun } from './agent-guest';
import { KERNEL_BUILD_TIMEOUT_MS, qemuMissingReason, testKernel } from './vm-fixture';
import { skipUnlessAvailable } from '../helpers/requirement';

const skipReason = qemuMissingReason();
const BOOT_MS = 150_000;

/** A busybox bundle from crun's own default spec, run by crun directly on the debug console. */
const CRUN_RUN = [
  'B=/bin/busybox',
  '$B mkdir -p /tmp/b/rootfs/bin /tmp/b/rootfs/proc /tmp/b/rootfs/dev /tmp/b/rootfs/sys',
  '$B cp /bin/busybox /tmp/b/rootfs/bin/',
  'cd /tmp/b',
  'crun spec',
  `$B sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"\\/bin\\/busybox","echo","CONTAINER-SAYS-HI"/' config.json`,
  'crun --root /run/crun run c1',
].join(' && ');

describe.skipIf(skipUnlessAvailable(skipReason))('the agent as init of an initramfs guest', () => {
  let kernel: KernelArtifacts;
  let initrd: string;
  let dir: string | undefined;
  beforeAll(async () => {
    kernel = await testKernel();
    dir = await mkdtemp(join(tmpdir(), 'vm-initrd-'));
    const tree = await buildRootfs({ declarationPath: resolve(__dirname, '../../rootfs/guest.json'), outputDir: join(dir, 'rootfs'), init: 'agent' });
    // Our packages ship no hard links; one made here checks the kernel's side of them.
    await link(join(tree.dir, 'bin/busybox'), join(tree.dir, 'usr/bin/busybox-hardlink'));
    initrd = (await buildInitrd({ rootfsDir: tree.dir, output: join(dir, 'initrd.gz'), compression: 'gzip' })).path;
  }, KERNEL_BUILD_TIMEOUT_MS);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // microvm under TCG powers off too since the guest is told the host's TSC rate (host-tsc.ts).
  it.each(['q35', 'microvm'] as const)('on %s: serves the host over virtio-serial and powers off on DestroySandbox', async (machine) => {
    const vm = await bootAgent(kernel, { kind: 'initrd', initrd }, { machine, timeoutMs: BOOT_MS, readyTimeoutMs: 90_000 });
    try {
      // The kernel ran /init from the initramfs (a disk root would run /sbin/init).
      expect(vm.consoleLines.some((l) => /Run \/init as init process/.test(l))).toBe(true);
      expect(vm.consoleLines.some((l) => /Unpacking initramfs/.test(l))).toBe(true);

      expect(await consoleRun(vm, CRUN_RUN, 'CRUN_RC', 60_000)).toBe('0');
      expect(vm.consoleLines).toContain('CONTAINER-SAYS-HI');

      // One inode, two names, the data intact (the archive stored it once, with the last name).
      vm.writeConsole('echo HARDLINK=$(/bin/busybox stat -c %i:%h /bin/busybox):$(/bin/busybox stat -c %i:%h /usr/bin/busybox-hardlink):$(/usr/bin/busybox-hardlink echo runs)\n');
      const [, ino1, ino2] = await vm.waitForConsole(/^HARDLINK=(\d+):2:(\d+):2:runs$/, 30_000);
      expect(ino1).toBe(ino2);

      const client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
      expect(await client.request('Health/Check', {}, { timeoutMs: 20_000 })).toEqual({ status: 'SERVING' });
      expect(await client.request('GetGuestDetails', { mem_block_size: true }, { timeoutMs: 20_000 })).toMatchObject({ agent_details: { init_daemon: true } });
      await client.request('CreateSandbox', { hostname: 'pod1', sandbox_id: 'sb1' }, { timeoutMs: 30_000 });
      await client.request('DestroySandbox', {}, { timeoutMs: 30_000 });
      client.close();
      expect(await vm.exited).toMatchObject({ code: 0, timedOut: false, panicked: false, shutdown: 'power-off' });
    } finally {
      await vm.stop();
    }
  }, BOOT_MS + 30_000);
});
