// The remote-hypervisor service's wire face, as Kata's runtime-go calls it (a ttRPC client of
// service hypervisor.Hypervisor over a unix socket, one connection per call), without booting:
// names, statuses, the socket it hands out and the boot it would make. The VM itself is proven
// by the Kata end-to-end suite (test/kata/).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, findMethod } from '../../agent/src/proto/schema';
import { TtrpcClient } from '../../agent/src/ttrpc/client';
import { Code } from '../../agent/src/ttrpc/status';
import { HYPERVISOR_SERVICE, type RunningService, serveRemoteHypervisor } from '../../image-builder/src/remote-hypervisor/server';
import { RemoteHypervisor } from '../../image-builder/src/remote-hypervisor/service';
import { hostShareDir, mountNamespacePrefix, SandboxVm } from '../../image-builder/src/remote-hypervisor/sandbox-vm';

const dir = mkdtempSync(path.join(tmpdir(), 'remote-hypervisor-'));
let running: RunningService;
const defaults = { kernel: '/k/vmlinux', image: '/k/rootfs.img', memoryMiB: 2048, cpus: 1, agentLogLevel: 'info', extraCmdline: ['agent.debug_console'] };

beforeAll(async () => {
  const service = new RemoteHypervisor({ ...defaults, stateDir: path.join(dir, 'state'), startTimeoutMs: 1000 });
  running = await serveRemoteHypervisor(service, path.join(dir, 'hv.sock'));
});
afterAll(async () => {
  await running.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One call on a fresh connection, as runtime-go's remote.go does it. */
async function call<T extends Record<string, unknown>>(method: string, req: Record<string, unknown>): Promise<T> {
  const info = findMethod(HYPERVISOR_SERVICE, method)!;
  const client = await TtrpcClient.connect(`unix://${running.socketPath}`);
  try {
    return decodeMessage<T>(info.responseType, await client.call(HYPERVISOR_SERVICE, method, encodeMessage(info.requestType, req)));
  } finally {
    client.close();
  }
}

describe('remote-hypervisor service', () => {
  it('listens on a socket only root may use', () => {
    expect(statSync(running.socketPath).mode & 0o777).toBe(0o600);
  });

  it('CreateVM names the agent socket per sandbox; a second CreateVM of the same id is ALREADY_EXISTS', async () => {
    const annotations = { 'io.kubernetes.cri.sandbox-name': 'pod', 'io.katacontainers.config.hypervisor.default_memory': '0' };
    const reply = await call<{ agentSocketPath: string }>('CreateVM', { id: 'sb1', annotations, networkNamespacePath: '' });
    expect(reply.agentSocketPath).toBe(path.join(dir, 'state', 'sb1', 'agent.sock'));
    await expect(call('CreateVM', { id: 'sb1', annotations: {} })).rejects.toMatchObject({ code: Code.ALREADY_EXISTS });
    await call('StopVM', { id: 'sb1' });
    // Stopped: the id can be made again.
    await call('CreateVM', { id: 'sb1', annotations: {} });
    await call('StopVM', { id: 'sb1' });
  });

  it('refuses ids that would leave the state dir, and bad annotations, with INVALID_ARGUMENT', async () => {
    await expect(call('CreateVM', { id: '../etc', annotations: {} })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('invalid sandbox id') });
    await expect(call('CreateVM', { id: 'sb2', annotations: { 'io.katacontainers.config.hypervisor.default_vcpus': 'two' } })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('default_vcpus=two') });
  });

  it('StartVM and StopVM of an unknown sandbox are NOT_FOUND; Version answers', async () => {
    await expect(call('StartVM', { id: 'nope' })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await expect(call('StopVM', { id: 'nope' })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    expect((await call<{ version: string }>('Version', { version: '0.0.1' })).version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("boots our kernel and image with Kata's share over virtio-fs, the agent on virtio-serial, sized as the runtime asks", () => {
    const vm = new SandboxVm(
      {
        id: 'pod-1',
        annotations: { 'io.katacontainers.config.hypervisor.default_memory': '512', 'io.katacontainers.config.hypervisor.default_vcpus': '2', 'io.katacontainers.config.hypervisor.image': '/other.img' },
        shimPid: process.pid,
        stateDir: path.join(dir, 'pod-1'),
        consoleLog: path.join(dir, 'pod-1.log'),
      },
      defaults,
    );
    const boot = vm.bootOptions();
    expect(boot).toMatchObject({
      kernel: '/k/vmlinux',
      media: { kind: 'image', image: '/other.img', attach: 'nvdimm' },
      memoryMiB: 512,
      cpus: 2,
      agentChannel: 'serial',
      socketDir: path.join(dir, 'pod-1'),
      virtioFs: { tag: 'kataShared', sharedDir: '/run/kata-containers/shared/sandboxes/pod-1/shared' },
      // The shim here is this very process: already in its mount namespace, so no nsenter.
      spawnPrefix: [],
    });
    expect(boot.extraCmdline).toEqual(['agent.server_addr=serial:///dev/virtio-ports/agent.channel.0', 'agent.shared_fs_tag=kataShared', 'agent.log=info', 'agent.debug_console']);
    expect(vm.agentSocketPath).toBe(path.join(dir, 'pod-1', 'agent.sock'));
    expect(hostShareDir('x')).toBe('/run/kata-containers/shared/sandboxes/x/shared');
  });

  it('enters the mount namespace of a shim that has its own, and says when it cannot see it', async () => {
    const shim = spawn('unshare', ['--mount', '--propagation', 'slave', 'sh', '-c', 'echo in; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => shim.stdout!.once('data', resolve)); // unshared by now
      expect(mountNamespacePrefix(shim.pid!)).toEqual(['nsenter', `--mount=/proc/${shim.pid}/ns/mnt`, '--']);
    } finally {
      shim.kill('SIGKILL');
    }
    expect(() => mountNamespacePrefix(2 ** 22 + 1)).toThrow(/mount namespace of the shim \(pid 4194305\): ENOENT/);
  });
});
