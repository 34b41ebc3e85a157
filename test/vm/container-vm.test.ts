// Issue 6 in a real guest: our kernel and image with the agent as PID 1, driven from the host
// over the virtio-serial channel exactly as a Kata runtime drives it. One container runs from a
// busybox ext4 image on a virtio-blk disk found by its PCI path ("02/00", behind a PCI bridge),
// another from a 9p share; both through crun on the guest's cgroup2 tree. DestroySandbox then
// powers the VM off and QEMU exits 0.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import type { VmHandle } from '../../image-builder/src/qemu';
import { processSpec } from '../helpers/container-spec';
import {
  CALL_MS, DISK_ORIGIN, DISK_PCI_PATH, POD_HOSTNAME, SHARE_ORIGIN, blkContainerRequest, buildContainerDisk,
  makeShareDir, readStdoutToEof, readStdoutUntil, sandboxRequest, sharedContainerRequest,
} from './container-guest';
import { buildAgentImage, bootAgent } from './agent-guest';
import { KERNEL_BUILD_TIMEOUT_MS, qemuMissingReason, testKernel } from './vm-fixture';
import { skipUnlessAvailable } from '../helpers/requirement';

const skipReason = qemuMissingReason();
const BOOT_MS = 240_000;
const BLK_CID = 'blk-c';
const SHARE_CID = 'share-c';

// The init prints what only its rootfs holds and what shows it is namespaced, writes a file into
// its rootfs, then waits for a line on stdin and exits 3.
const INIT_SCRIPT = [
  'cat /etc/rootfs-origin',
  'echo "hostname=$(hostname)"',
  'echo "pid=$$"',
  'echo "cgroup=$(cat /proc/self/cgroup)"',
  'echo written-by-$(hostname) > /from-container',
  'echo ready',
  'read line',
  'echo "got $line"',
  'exit 3',
].join('; ');

describe.skipIf(skipUnlessAvailable(skipReason))('containers in a guest VM through the agent', () => {
  let kernel: KernelArtifacts;
  let dir: string;
  let diskImage: string;
  let shareDir: string;
  let vm: VmHandle;
  let client: AgentClient;
  const call = <T extends Record<string, unknown> = Record<string, unknown>>(method: string, req: Record<string, unknown>) =>
    client.request<T>(method, req, { timeoutMs: CALL_MS });

  // On a failure the guest console (crun's and the agent's errors) says why.
  const withConsole = async (body: () => Promise<void>) => {
    try {
      await body();
    } catch (err) {
      process.stderr.write(`--- guest console (last 80 lines) ---\n${vm?.consoleLines.slice(-80).join('\n')}\n`);
      throw err;
    }
  };

  beforeAll(async () => {
    const started = Date.now();
    kernel = await testKernel();
    dir = await mkdtemp(join(tmpdir(), 'vm-containers-'));
    const image = await buildAgentImage(dir);
    diskImage = await buildContainerDisk(dir);
    shareDir = makeShareDir(dir, SHARE_CID);
    vm = await bootAgent(kernel, image, {
      disks: [{ path: diskImage, pciPath: DISK_PCI_PATH }],
      shares: [{ tag: 'kataShared', path: shareDir }],
      timeoutMs: BOOT_MS,
      readyTimeoutMs: 90_000,
    });
    client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
    process.stderr.write(`[container-vm] images built and agent ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }, KERNEL_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    client?.close();
    await vm?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates the sandbox with the 9p shared directory', async () => {
    await withConsole(async () => {
      await call('CreateSandbox', sandboxRequest());
    });
  }, BOOT_MS);

  it('runs a container from the virtio-blk disk at PCI path 02/00: output, exit code, exec, remove', async () => {
    await withConsole(async () => {
      const started = Date.now();
      await call('CreateContainer', blkContainerRequest(BLK_CID, ['sh', '-c', INIT_SCRIPT]));
      await call('StartContainer', { container_id: BLK_CID });
      const head = await readStdoutUntil(client, BLK_CID, BLK_CID, /^ready$/m);
      expect(head).toContain(`${DISK_ORIGIN}\n`);
      expect(head).toContain(`hostname=${POD_HOSTNAME}\n`);
      expect(head).toContain('pid=1\n'); // its own pid namespace
      expect(head).toMatch(new RegExp(`^cgroup=0::/.*${BLK_CID}$`, 'm')); // its own cgroup2 group

      // An exec joins the container: same rootfs, and its pid 1 is the container's init.
      await call('ExecProcess', { container_id: BLK_CID, exec_id: 'look', process: processSpec(['sh', '-c', 'cat /etc/rootfs-origin; tr "\\0" " " </proc/1/cmdline; echo; echo "exec-pid=$$"']) });
      const execOut = await readStdoutToEof(client, BLK_CID, 'look');
      expect(execOut).toContain(`${DISK_ORIGIN}\n`);
      expect(execOut).toContain('read line');
      expect(execOut).not.toContain('exec-pid=1\n');
      expect((await call<{ status: number }>('WaitProcess', { container_id: BLK_CID, exec_id: 'look' })).status).toBe(0);

      await call('WriteStdin', { container_id: BLK_CID, exec_id: BLK_CID, data: Buffer.from('bye\n') });
      expect(await readStdoutToEof(client, BLK_CID, BLK_CID)).toBe('got bye\n');
      expect((await call<{ status: number }>('WaitProcess', { container_id: BLK_CID, exec_id: BLK_CID })).status).toBe(3);

      await call('RemoveContainer', { container_id: BLK_CID, timeout: 30 });
      process.stderr.write(`[container-vm] blk container create..remove ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      // Unmounted and flushed: the file the container wrote is in the image on the host.
      const written = execFileSync('debugfs', ['-R', 'cat /from-container', diskImage], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      expect(written).toBe(`written-by-${POD_HOSTNAME}\n`);
      await expect(call('WaitProcess', { container_id: BLK_CID, exec_id: BLK_CID })).rejects.toMatchObject({ code: 5 });
    });
  }, BOOT_MS);

  it('runs a container whose rootfs comes from the 9p share', async () => {
    await withConsole(async () => {
      await call('CreateContainer', sharedContainerRequest(SHARE_CID, ['sh', '-c', INIT_SCRIPT]));
      await call('StartContainer', { container_id: SHARE_CID });
      const head = await readStdoutUntil(client, SHARE_CID, SHARE_CID, /^ready$/m);
      expect(head).toContain(`${SHARE_ORIGIN}\n`);
      expect(head).toContain(`hostname=${POD_HOSTNAME}\n`);
      expect(head).toContain('pid=1\n');
      // Written through 9p: the host sees it at once.
      expect(readFileSync(join(shareDir, SHARE_CID, 'rootfs/from-container'), 'utf8')).toBe(`written-by-${POD_HOSTNAME}\n`);
      await call('CloseStdin', { container_id: SHARE_CID, exec_id: SHARE_CID });
      expect(await readStdoutToEof(client, SHARE_CID, SHARE_CID)).toBe('got \n');
      expect((await call<{ status: number }>('WaitProcess', { container_id: SHARE_CID, exec_id: SHARE_CID })).status).toBe(3);
      await call('RemoveContainer', { container_id: SHARE_CID, timeout: 30 });
      expect(existsSync(join(shareDir, SHARE_CID, 'rootfs/etc/rootfs-origin'))).toBe(true);
    });
  }, BOOT_MS);

  it('DestroySandbox powers the guest off and QEMU exits 0', async () => {
    await withConsole(async () => {
      await call('DestroySandbox', {});
      client.close();
      expect(await vm.exited).toMatchObject({ code: 0, timedOut: false, panicked: false });
      // Nothing on the way failed quietly (a crun or unmount error is logged at level error).
      expect(vm.consoleLines.filter((l) => l.includes('"level":"error"'))).toEqual([]);
    });
  }, BOOT_MS);
});
