// Kata's default shared filesystem for real: our kernel and image with the agent as PID 1, the
// host's shared directory served by a real virtiofsd (vhost-user-fs on QEMU, guest RAM as shared
// memory), and the requests Kata 3.19.1's runtime sends for a virtio-fs pod, driven over the
// agent channel. The sandbox mounts the share (storage virtio-fs, source kataShared, fstype
// virtiofs) at /run/kata-containers/shared/containers, and a container runs from
// <share>/<cid>/rootfs with the share's hosts/hostname/resolv.conf bound in. DestroySandbox powers
// the VM off; QEMU and virtiofsd are then gone.
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import { SHARED_CONTAINERS, SHARED_FS_TAG } from '../../agent/src/paths';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import type { VmHandle } from '../../image-builder/src/qemu';
import { buildAgentImage, bootAgent } from './agent-guest';
import { CALL_MS } from './container-guest';
import { KERNEL_BUILD_TIMEOUT_MS, testKernel } from './vm-fixture';
import { skipUnlessAvailable } from '../helpers/requirement';
import {
  FIXTURE_SANDBOX_ID, VIRTIOFS_CONTAINER_ID, VIRTIOFS_ORIGIN, VIRTIOFS_SANDBOX_ID, fixtureJson, jsonDiffPaths,
  type MountNamespaceHolder, makeKataShare, processesMentioning, virtiofsVmRequirement, readStdoutToEnd,
  startMountNamespaceHolder, virtiofsContainerRequest, virtiofsSandboxRequest,
} from './virtiofs-guest';

const { install: virtiofsd, missing } = await virtiofsVmRequirement();
// In CI a VM test that cannot run fails with the reason; elsewhere it is skipped with it.
const skip = skipUnlessAvailable(missing);

const BOOT_MS = 240_000;
const CID = VIRTIOFS_CONTAINER_ID;
// Runs as the fixture's uid 101. Prints what only the share's rootfs holds, its root mount (the
// share), what the share's bind-mounted files say, writes through the share, and exits 7.
const SCRIPT = [
  'cat /etc/rootfs-origin',
  'echo "id=$(id -u):$(id -g)"',
  'echo "hostname-file=$(cat /etc/hostname)"',
  'grep -q "$(hostname)" /etc/hosts && echo hosts-from-share',
  'echo "root-mount=$(grep " / " /proc/mounts)"',
  'echo "written by uid $(id -u)" > /tmp/from-container',
  'exit 7',
].join('; ');

describe.skipIf(skip)('a Kata virtio-fs pod in a guest VM, with a real virtiofsd', () => {
  let kernel: KernelArtifacts;
  let dir: string;
  let share: string;
  let vm: VmHandle;
  let client: AgentClient;
  const sandboxRequest = virtiofsSandboxRequest();
  const containerRequest = virtiofsContainerRequest(['sh', '-c', SCRIPT]);
  const started = Date.now();
  const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);

  const withConsole = async (body: () => Promise<void>) => {
    try {
      await body();
    } catch (err) {
      process.stderr.write(`--- guest console (last 80 lines) ---\n${vm?.consoleLines.slice(-80).join('\n')}\n`);
      if (vm?.virtiofsd) process.stderr.write(`--- virtiofsd ---\n${vm.virtiofsd.log()}\n`);
      throw err;
    }
  };

  beforeAll(async () => {
    if (missing) throw new Error(`${missing} (CI=true: the virtio-fs VM test must run, not skip)`);
    const install = virtiofsd!;
    kernel = await testKernel();
    dir = await mkdtemp(join(tmpdir(), 'vm-virtiofs-'));
    const image = await buildAgentImage(dir);
    share = makeKataShare(dir, containerRequest, sandboxRequest);
    const booting = Date.now();
    vm = await bootAgent(kernel, image, {
      virtioFs: { tag: SHARED_FS_TAG, sharedDir: share, virtiofsd: install.command },
      timeoutMs: BOOT_MS,
      readyTimeoutMs: 90_000,
    });
    client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
    process.stderr.write(
      `[container-virtiofs] virtiofsd ${install.version} (${install.source}); images built in ${((booting - started) / 1000).toFixed(1)} s, ` +
        `boot (virtiofsd, QEMU) to agent ready ${seconds(booting)} s\n`,
    );
  }, KERNEL_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    client?.close();
    await vm?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    process.stderr.write(`[container-virtiofs] virtio-fs pod, images to power-off: ${seconds(started)} s\n`);
  });

  it('sends the runtime\'s requests changed only in ids, the process args and the seccomp profile', () => {
    expect(jsonDiffPaths(fixtureJson('create-sandbox-virtiofs'), sandboxRequest)).toEqual(['sandbox_id']);
    expect(sandboxRequest.storages[0]).toEqual({ driver: 'virtio-fs', source: 'kataShared', fstype: 'virtiofs', mount_point: `${SHARED_CONTAINERS}/` });
    const changed = jsonDiffPaths(fixtureJson('create-container-virtiofs'), containerRequest);
    const allowed = /^(container_id|exec_id|OCI\.Process\.Args\.\d+|OCI\.Root\.Path|OCI\.Mounts\.\d+\.source|OCI\.Annotations\.io\.kubernetes\.cri\.sandbox-id|OCI\.Linux\.CgroupsPath|OCI\.Linux\.Seccomp)$/;
    expect(changed.filter((p) => !allowed.test(p))).toEqual([]);
    expect(containerRequest.OCI.Root.Path).toBe(`${SHARED_CONTAINERS}/${CID}/rootfs`);
    expect(containerRequest.OCI.Annotations['io.kubernetes.cri.sandbox-id']).toBe(VIRTIOFS_SANDBOX_ID);
    expect(JSON.stringify(containerRequest)).not.toContain(FIXTURE_SANDBOX_ID);
  });

  it('CreateSandbox mounts the virtio-fs share kataShared at /run/kata-containers/shared/containers', async () => {
    await withConsole(async () => {
      await client.requestJson('CreateSandbox', sandboxRequest, { timeoutMs: CALL_MS });
      // The agent says which storage it mounted, and the guest's own mount table agrees.
      // (The console is a separate channel from the reply: wait for the line, then read it. The
      // debug shell shares the console, so a line may follow its prompt.)
      const line = await vm.waitForConsole(/\{.*"msg":"storage mounted".*"fstype":"virtiofs".*\}/, 30_000);
      expect(JSON.parse(line[0])).toMatchObject({ storageDriver: 'virtio-fs', source: 'kataShared', fstype: 'virtiofs', mountPoint: expect.stringMatching(new RegExp(`^${SHARED_CONTAINERS}/?$`)) });
      vm.writeConsole('grep virtiofs /proc/mounts\n');
      await vm.waitForConsole(new RegExp(`kataShared ${SHARED_CONTAINERS} virtiofs rw`), 30_000);
    });
  }, BOOT_MS);

  it('runs the container from <share>/<cid>/rootfs: its output over ReadStdout, exit code 7, writes reach the host as uid 101', async () => {
    await withConsole(async () => {
      const t0 = Date.now();
      await client.requestJson('CreateContainer', containerRequest, { timeoutMs: CALL_MS });
      await client.request('StartContainer', { container_id: CID }, { timeoutMs: CALL_MS });
      const out = await readStdoutToEnd(client, CID, CID, CALL_MS);
      expect(out).toContain(`${VIRTIOFS_ORIGIN}\n`);
      expect(out).toContain('id=101:101\n');
      expect(out).toContain(`hostname-file=${sandboxRequest.hostname}\n`);
      expect(out).toContain('hosts-from-share\n');
      expect(out).toMatch(/^root-mount=kataShared \/ virtiofs /m);
      expect((await client.request<{ status: number }>('WaitProcess', { container_id: CID, exec_id: CID }, { timeoutMs: CALL_MS })).status).toBe(7);
      // virtiofsd wrote it on the host with the guest's uid.
      const written = join(share, CID, 'rootfs/tmp/from-container');
      expect(readFileSync(written, 'utf8')).toBe('written by uid 101\n');
      expect(statSync(written).uid).toBe(101);
      process.stderr.write(`[container-virtiofs] create..exit ${seconds(t0)} s\n`);
    });
  }, BOOT_MS);

  it('RemoveContainer, DestroySandbox: the guest powers off, and QEMU and virtiofsd are gone', async () => {
    await withConsole(async () => {
      await client.request('RemoveContainer', { container_id: CID, timeout: 30 }, { timeoutMs: CALL_MS });
      expect(existsSync(join(share, CID, 'rootfs/etc/rootfs-origin'))).toBe(true); // the host's files stay
      const vfs = vm.virtiofsd!;
      await client.request('DestroySandbox', {}, { timeoutMs: CALL_MS });
      client.close();
      const exit = await vm.exited;
      expect(exit).toMatchObject({ code: 0, timedOut: false, stopped: false, panicked: false, shutdown: 'power-off' });
      // virtiofsd ended when its frontend left (exit 0), and was reaped before `exited` resolved.
      expect(exit.virtiofsd).toEqual({ code: 0, signal: null });
      expect(existsSync(`/proc/${vm.pid}`)).toBe(false);
      expect(existsSync(`/proc/${vfs.pid}`)).toBe(false);
      // Its namespace sandbox's second process too: nothing mentions the socket any more.
      expect(processesMentioning(vfs.socketPath)).toEqual([]);
      expect(vm.consoleLines.filter((l) => l.includes('"level":"error"'))).toEqual([]);
    });
  }, BOOT_MS);
});

// How a Kata shim's VM sees the host: the shim bind-mounts each container's rootfs into the shared
// directory inside its own mount namespace, and the VM (QEMU and virtiofsd) must run there to see
// it: BootOptions.spawnPrefix = nsenter into that namespace. This VM is ended by stop().
describe.skipIf(skip)('the same pod with QEMU and virtiofsd in another process\'s mount namespace (spawnPrefix)', () => {
  const NS_ORIGIN = 'busybox rootfs bind-mounted into the share in the shim\'s mount namespace';
  let dir: string;
  let share: string;
  let holder: MountNamespaceHolder;
  let vm: VmHandle;
  let client: AgentClient;
  const sandboxRequest = virtiofsSandboxRequest();
  const containerRequest = virtiofsContainerRequest(['sh', '-c', 'cat /etc/rootfs-origin; exit 3']);
  let started = 0;

  beforeAll(async () => {
    if (missing) throw new Error(`${missing} (CI=true: the virtio-fs VM test must run, not skip)`);
    started = Date.now();
    const install = virtiofsd!;
    const kernel = await testKernel();
    dir = await mkdtemp(join(tmpdir(), 'vm-virtiofs-ns-'));
    const image = await buildAgentImage(dir);
    const rootfs = join(dir, 'container-rootfs');
    share = makeKataShare(dir, containerRequest, sandboxRequest, { rootfsElsewhere: rootfs, origin: NS_ORIGIN });
    holder = await startMountNamespaceHolder('mount --bind "$1" "$2"', [rootfs, join(share, CID, 'rootfs')]);
    vm = await bootAgent(kernel, image, {
      virtioFs: { tag: SHARED_FS_TAG, sharedDir: share, virtiofsd: install.command },
      spawnPrefix: holder.prefix,
      timeoutMs: BOOT_MS,
      readyTimeoutMs: 90_000,
    });
    client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
  }, KERNEL_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    client?.close();
    await vm?.stop();
    holder?.kill();
    process.stderr.write(`[container-virtiofs] pod in another mount namespace, images to stop(): ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('QEMU and virtiofsd run in that namespace, and the container runs from the rootfs only it sees', async () => {
    const theirs = readlinkSync(`/proc/${holder.pid}/ns/mnt`);
    expect(readlinkSync('/proc/self/ns/mnt')).not.toBe(theirs);
    expect(readlinkSync(`/proc/${vm.pid}/ns/mnt`)).toBe(theirs);
    // virtiofsd's sandbox made a mount namespace of its own from the holder's, rooted at the share.
    expect(readFileSync(`/proc/${vm.virtiofsd!.pid}/root/${CID}/rootfs/etc/rootfs-origin`, 'utf8')).toBe(`${NS_ORIGIN}\n`);
    expect(readdirSync(join(share, CID, 'rootfs'))).toEqual([]); // here, the mount point is empty
    await client.requestJson('CreateSandbox', sandboxRequest, { timeoutMs: CALL_MS });
    await client.requestJson('CreateContainer', containerRequest, { timeoutMs: CALL_MS });
    await client.request('StartContainer', { container_id: CID }, { timeoutMs: CALL_MS });
    expect(await readStdoutToEnd(client, CID, CID, CALL_MS)).toBe(`${NS_ORIGIN}\n`);
    expect((await client.request<{ status: number }>('WaitProcess', { container_id: CID, exec_id: CID }, { timeoutMs: CALL_MS })).status).toBe(3);
  }, BOOT_MS);

  it('stop() ends QEMU and virtiofsd, both reaped when exited resolves', async () => {
    const vfs = vm.virtiofsd!;
    client.close();
    const exit = await vm.stop();
    expect(exit).toMatchObject({ stopped: true, timedOut: false });
    expect(exit.virtiofsd).toBeDefined();
    expect(existsSync(`/proc/${vm.pid}`)).toBe(false);
    expect(existsSync(`/proc/${vfs.pid}`)).toBe(false);
    expect(processesMentioning(vfs.socketPath)).toEqual([]);
  }, BOOT_MS);
});
