// What a container run in a guest VM is made of: the agent's DAX image, a busybox rootfs as an
// ext4 disk (virtio-blk behind Kata's PCI bridge, path "02/00") and as a 9p share tree, the
// requests a Kata runtime sends for them, and reading a process's output through the agent.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient, Message } from '../../agent/client/agent-client';
import { SANDBOX_SHM, SHARED_CONTAINERS, SHARED_FS_TAG, sharedRootfs } from '../../agent/src/paths';
import { buildImage } from '../../image-builder/src/image';
import { makeBusyboxRootfs } from '../helpers/container-rootfs';
import { containerSpec } from '../helpers/container-spec';

/**
 * Where the cold-plugged container disk sits: slot 0 behind the bridge at root slot 2 (the blk
 * fixture's path). Kata's own hotplug starts at slot 1 ("02/01", see disk-hotplug.test.ts).
 */
export const DISK_PCI_PATH = '02/00';
/** What each rootfs holds in /etc/rootfs-origin: only that rootfs can print it. */
export const DISK_ORIGIN = 'busybox rootfs from the virtio-blk ext4 image';
export const SHARE_ORIGIN = 'busybox rootfs from the 9p share';
export const POD_HOSTNAME = 'vm-pod';
/** Generous: every call runs on an emulated CPU shared with other jobs. */
export const CALL_MS = 60_000;

/** A bare ext4 filesystem (no partition table: the runtime mounts the whole disk) with busybox. */
export async function buildContainerDisk(dir: string): Promise<string> {
  const tree = makeBusyboxRootfs(join(dir, 'disk-tree'));
  writeFileSync(join(tree, 'etc/rootfs-origin'), `${DISK_ORIGIN}\n`);
  return (await buildImage({ rootfsDir: tree, output: join(dir, 'container.img'), layout: 'raw' })).path;
}

/** The host directory behind the 9p share: <cid>/rootfs for the container that runs from it. */
export function makeShareDir(dir: string, containerId: string): string {
  const share = join(dir, 'share');
  const rootfs = makeBusyboxRootfs(join(share, containerId, 'rootfs'));
  writeFileSync(join(rootfs, 'etc/rootfs-origin'), `${SHARE_ORIGIN}\n`);
  return share;
}

/** CreateSandbox as a 9p-era Kata runtime sends it: the shared directory over 9p, shm as tmpfs. */
export function sandboxRequest(): Message {
  return {
    hostname: POD_HOSTNAME,
    dns: ['nameserver 10.96.0.10'],
    storages: [
      { driver: '9p', source: SHARED_FS_TAG, fstype: '9p', options: ['trans=virtio', 'version=9p2000.L', 'nodev', 'msize=512000'], mount_point: `${SHARED_CONTAINERS}/` },
      { driver: 'ephemeral', source: 'shm', fstype: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'mode=1777', 'size=67108864'], mount_point: SANDBOX_SHM },
    ],
    sandbox_pidns: false,
    sandbox_id: 'vm-sandbox',
  };
}

/** CreateContainer with its rootfs on the disk at `pciPath` (as the blk fixture sends it). */
export function blkContainerRequest(containerId: string, args: string[], pciPath = DISK_PCI_PATH): Message {
  const mountPoint = `${SHARED_CONTAINERS}/${containerId}`;
  const oci = containerSpec(containerId, args, { hostname: POD_HOSTNAME });
  return {
    container_id: containerId,
    exec_id: containerId,
    storages: [{ driver: 'blk', source: pciPath, fstype: 'ext4', options: [], mount_point: mountPoint }],
    OCI: { ...oci, Root: { Path: mountPoint, Readonly: false } },
  };
}

/** CreateContainer with its rootfs under the shared directory (<share>/<cid>/rootfs). */
export function sharedContainerRequest(containerId: string, args: string[]): Message {
  const oci = containerSpec(containerId, args, { hostname: POD_HOSTNAME });
  return { container_id: containerId, exec_id: containerId, OCI: { ...oci, Root: { Path: sharedRootfs(containerId), Readonly: false } } };
}

/** Everything on a process's stdout until its end. */
export async function readStdoutToEof(client: AgentClient, containerId: string, execId: string): Promise<string> {
  return (await client.readAllOutput(containerId, execId, 'stdout', 65536, { timeoutMs: CALL_MS })).toString();
}

/** Stdout until `pattern` matches (the process keeps running). */
export async function readStdoutUntil(client: AgentClient, containerId: string, execId: string, pattern: RegExp): Promise<string> {
  let text = '';
  while (!pattern.test(text)) {
    const data = await client.readOutput(containerId, execId, 'stdout', 65536, { timeoutMs: CALL_MS });
    if (data === null) throw new Error(`ReadStdout ${containerId}/${execId}: EOF before ${pattern}; got ${JSON.stringify(text)}`);
    text += data.toString();
  }
  return text;
}
