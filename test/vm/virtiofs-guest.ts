// Kata's virtio-fs path for VM tests: the host's shared directory laid out as Kata's runtime lays
// it out (<share>/<cid>/rootfs, and the files the container spec bind-mounts from the share), the
// Kata 3.19.1 runtime's own CreateSandbox/CreateContainer requests for virtio-fs adapted only in
// what a busybox run needs, reading a process's output to its end, and waiting for a process
// that is not our child to be gone.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AgentClient } from '../../agent/client/agent-client';
import { native } from '../../agent/src/native/addon';
import { FdWatch } from '../../agent/src/native/fd-watch';
import { SHARED_CONTAINERS } from '../../agent/src/paths';
import { Code, RpcError } from '../../agent/src/ttrpc/status';
import { guardedCommand } from '../../image-builder/src/qemu/guarded-command';
import { ensureVirtiofsd, type VirtiofsdInstall } from '../../image-builder/src/virtiofsd';
import { kataFixture } from '../fixtures';
import { makeBusyboxRootfs } from '../helpers/container-rootfs';
import { qemuMissingReason } from './vm-fixture';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The ids the fixtures were recorded with. */
export const FIXTURE_CONTAINER_ID = '3f6c2a9d8e1b4c7a9f0e2d1c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2';
export const FIXTURE_SANDBOX_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
/** Ours, of the same shape (64 hex digits, as containerd makes them). */
export const VIRTIOFS_CONTAINER_ID = createHash('sha256').update('kata-node-agent virtio-fs container').digest('hex');
export const VIRTIOFS_SANDBOX_ID = createHash('sha256').update('kata-node-agent virtio-fs sandbox').digest('hex');
export const VIRTIOFS_ORIGIN = 'busybox rootfs from the virtio-fs share';

export function fixtureJson(name: 'create-sandbox-virtiofs' | 'create-container-virtiofs'): Json {
  return JSON.parse(kataFixture(`${name}.json`).toString('utf8')) as Json;
}

/** The runtime's CreateSandbox with our sandbox id (what the runtime takes from containerd). */
export function virtiofsSandboxRequest(): Json {
  return { ...fixtureJson('create-sandbox-virtiofs'), sandbox_id: VIRTIOFS_SANDBOX_ID };
}

/**
 * The runtime's CreateContainer for the nginx pod, adapted: our container and sandbox ids
 * wherever the runtime wrote them (root path, share mounts, cgroup path, annotations), busybox
 * args, and no seccomp profile. The last is what the runtime itself sends with its default
 * disable_guest_seccomp = true (constrainGRPCSpec drops Linux.Seccomp); the fixture was recorded
 * with it off, and its nginx profile (14 syscalls) stops any OCI runtime before exec.
 * Env stays the fixture's: its PATH has /bin, where busybox is.
 */
export function virtiofsContainerRequest(args: string[]): Json {
  const text = JSON.stringify(fixtureJson('create-container-virtiofs'))
    .replaceAll(FIXTURE_CONTAINER_ID, VIRTIOFS_CONTAINER_ID)
    .replaceAll(FIXTURE_SANDBOX_ID, VIRTIOFS_SANDBOX_ID);
  const req = JSON.parse(text) as Json;
  req.OCI.Process.Args = args;
  delete req.OCI.Linux.Seccomp;
  return req;
}

/** Paths (a.b.c) where two JSON values differ: what an adaptation changed. */
export function jsonDiffPaths(a: unknown, b: unknown, at = ''): string[] {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [at];
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => jsonDiffPaths((a as Json)[k], (b as Json)[k], at ? `${at}.${k}` : k));
}

/**
 * The host side of the share as Kata's runtime makes it for virtio-fs
 * (/run/kata-containers/shared/sandboxes/<sid>/shared): the container's rootfs at <cid>/rootfs,
 * and the files its spec bind-mounts from the share (hosts, hostname, resolv.conf,
 * termination-log, named <cid>-<random>-<name>). /tmp is world-writable so the container's uid
 * 101 can write through the share. With `rootfsElsewhere`, the rootfs is made there and
 * <cid>/rootfs left empty, for a bind mount (as the shim makes one in its mount namespace).
 */
export function makeKataShare(dir: string, containerRequest: Json, sandboxRequest: Json, opts: { rootfsElsewhere?: string; origin?: string } = {}): string {
  const share = join(dir, 'shared');
  const containerId = containerRequest.container_id as string;
  const mountPoint = join(share, containerId, 'rootfs');
  mkdirSync(mountPoint, { recursive: true });
  const rootfs = makeBusyboxRootfs(opts.rootfsElsewhere ?? mountPoint);
  writeFileSync(join(rootfs, 'etc/rootfs-origin'), `${opts.origin ?? VIRTIOFS_ORIGIN}\n`);
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  const hostname = containerRequest.OCI.Hostname as string;
  const contents: Record<string, string> = {
    hostname: `${hostname}\n`,
    hosts: `127.0.0.1\tlocalhost\n10.244.1.7\t${hostname}\n`,
    'resolv.conf': `${(sandboxRequest.dns as string[]).join('\n')}\n`,
    'termination-log': '',
  };
  for (const m of containerRequest.OCI.Mounts as Array<{ source: string; type: string }>) {
    if (m.type !== 'bind' || !m.source.startsWith(`${SHARED_CONTAINERS}/`)) continue;
    const name = m.source.slice(SHARED_CONTAINERS.length + 1);
    const kind = Object.keys(contents).find((k) => name.endsWith(`-${k}`));
    if (!kind) throw new Error(`share file ${name}: not one the runtime makes (${Object.keys(contents).join(', ')})`);
    writeFileSync(join(share, name), contents[kind]!);
  }
  return share;
}

/**
 * A process's stdout to its end. The end is an empty reply (Kata's agent from 3.27) or an
 * OUT_OF_RANGE status saying EOF (ours, and Kata's before): both are taken; any other error is not.
 */
export async function readStdoutToEnd(client: AgentClient, containerId: string, execId: string, timeoutMs: number): Promise<string> {
  let text = '';
  for (;;) {
    let data: Buffer;
    try {
      ({ data } = await client.request<{ data: Buffer }>('ReadStdout', { container_id: containerId, exec_id: execId, len: 65536 }, { timeoutMs }));
    } catch (err) {
      if (err instanceof RpcError && err.code === Code.OUT_OF_RANGE && /EOF/.test(err.message)) return text;
      throw err;
    }
    if (data.length === 0) return text;
    text += data.toString('utf8');
  }
}

/** Resolves when `pid` has exited (any process, not only our children): its pidfd turns readable. */
export function processGone(pid: number): Promise<void> {
  const addon = native();
  let pidfd: number;
  try {
    pidfd = addon.pidfdOpen(pid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return Promise.resolve();
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const watch = new FdWatch(
      pidfd,
      () => {
        watch.close();
        addon.closeFd(pidfd);
        resolve();
      },
      (err) => {
        addon.closeFd(pidfd);
        reject(err);
      },
    );
    watch.watch({ readable: true });
  });
}

/** Pids of live processes whose command line mentions `text` (e.g. a virtiofsd socket path). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) pids.push(Number(name));
    } catch {
      // gone while we looked
    }
  }
  return pids;
}

/** virtiofsd for the VM tests (provisioned now if need be), or why there is none. */
export async function provisionVirtiofsd(): Promise<VirtiofsdInstall | string> {
  try {
    return await ensureVirtiofsd({ log: (m) => process.stderr.write(`[virtiofsd] ${m}\n`) });
  } catch (err) {
    return `virtiofsd cannot be had: ${(err as Error).message}`;
  }
}

/**
 * What a virtio-fs VM test needs: QEMU (vm-fixture's check) and a virtiofsd, provisioned now if
 * need be. `missing` says why the test cannot run; otherwise `install` is there.
 */
export async function virtiofsVmRequirement(): Promise<{ install?: VirtiofsdInstall; missing?: string }> {
  const qemuMissing = qemuMissingReason();
  if (qemuMissing) return { missing: qemuMissing };
  const virtiofsd = await provisionVirtiofsd();
  return typeof virtiofsd === 'string' ? { missing: virtiofsd } : { install: virtiofsd };
}

export interface MountNamespaceHolder {
  pid: number;
  /** spawnPrefix that runs a command in the holder's mount namespace. */
  prefix: string[];
  kill(): void;
}

/**
 * A process in a mount namespace of its own that first runs `setup` there (sh -c, with `args` as
 * $1...), e.g. the bind mounts a Kata shim makes in its namespace, then stays. Dies with us.
 */
export async function startMountNamespaceHolder(setup: string, args: string[]): Promise<MountNamespaceHolder> {
  const [cmd, ...rest] = guardedCommand(['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', `${setup} && echo ready && exec sleep 1000000`, 'sh', ...args]);
  const holder = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: holder.stdout! }).once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(`mount namespace holder said ${l}`))));
    holder.once('exit', (code) => reject(new Error(`mount namespace holder exited ${code} before it was ready`)));
  });
  const pid = holder.pid!;
  return { pid, prefix: ['nsenter', `--mount=/proc/${pid}/ns/mnt`, '--'], kill: () => holder.kill('SIGKILL') };
}
