// Starts the container-enabled agent for integration tests: bundled from
// container-agent-entry.ts, run as root in its own mount namespace (unshare -m, private
// propagation) with tmpfs over /run/kata-containers and a cgroup2 mount at /sys/fs/cgroup,
// so that nothing it mounts or writes reaches the host.
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { AgentClient } from '../../agent/client/agent-client';
import { bundleForNode } from './ns-scenarios';
import { makeBusyboxRootfs } from './container-rootfs';

const REPO_ROOT = path.resolve(__dirname, '../..');
const ADDON = path.join(REPO_ROOT, 'agent/native/build/Release/kata_native.node');

export interface ContainerAgent {
  child: ChildProcess;
  pid: number;
  address: string;
  /** Host directory standing in for the virtio-fs share (its <cid>/rootfs are container roots). */
  sharedDir: string;
  logs: Array<Record<string, unknown>>;
  /** Resolves with the first log record (past or future) whose msg is `msg`. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  client: AgentClient;
  /** A busybox rootfs at <sharedDir>/<cid>/rootfs. */
  addRootfs(containerId: string): string;
  openFds(): number;
  zombies(): number;
  /** Processes whose parent is the agent (containers' inits and execs are reparented to it). */
  children(): number[];
  stop(): Promise<void>;
}

let bundled: Promise<string> | undefined;

function bundle(): Promise<string> {
  bundled ??= (async () => {
    // One file in /tmp for every run: built beside it, then renamed into place (atomic), so
    // test files bundling at the same time never run a half-written bundle.
    const out = path.join(tmpdir(), 'kata-container-agent-test.mjs');
    const staging = `${out}.${process.pid}.tmp`;
    await bundleForNode(path.join(__dirname, 'container-agent-entry.ts'), staging);
    renameSync(staging, out);
    return out;
  })();
  return bundled;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export async function startContainerAgent(
  opts: { cgroupManager?: 'cgroupfs' | 'disabled'; guestSeccomp?: boolean; containerPipeSize?: number; env?: NodeJS.ProcessEnv; extraGuestRoots?: string[] } = {},
): Promise<ContainerAgent> {
  const entry = await bundle();
  const dir = mkdtempSync(path.join(tmpdir(), 'kata-ct-'));
  const sharedDir = path.join(dir, 'shared');
  mkdirSync(sharedDir);
  const address = `unix://${path.join(dir, 'agent.sock')}`;
  mkdirSync('/run/kata-containers', { recursive: true });
  const script = [
    'set -e',
    'mount -t tmpfs -o mode=755 tmpfs /run/kata-containers',
    'mount -t cgroup2 none /sys/fs/cgroup',
    `exec "${process.execPath}" "${entry}"`,
  ].join('\n');
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
    env: {
      ...process.env,
      ...opts.env,
      KATA_NATIVE_ADDON: ADDON,
      KATA_TEST_AGENT: JSON.stringify({ address, sharedDir, cgroupManager: opts.cgroupManager ?? 'disabled', guestSeccomp: opts.guestSeccomp, containerPipeSize: opts.containerPipeSize, extraGuestRoots: opts.extraGuestRoots }),
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const logEvents = new EventEmitter();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`container agent not ready; logs: ${JSON.stringify(logs)}`)), 20_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        rec = { raw: line };
      }
      logs.push(rec);
      logEvents.emit('log', rec);
      if (process.env.CONTAINER_AGENT_LOGS) process.stderr.write(`${line}\n`);
      if (rec.msg === 'agent ready') {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`container agent exited with ${code}; logs: ${JSON.stringify(logs)}`));
    });
  });
  const client = await AgentClient.connect(address);
  const pid = child.pid!;
  return {
    child,
    pid,
    address,
    sharedDir,
    logs,
    waitForLog(msg, timeoutMs = 10_000) {
      const seen = logs.find((l) => l.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          logEvents.off('log', onLog);
          reject(new Error(`no log "${msg}" within ${timeoutMs} ms`));
        }, timeoutMs);
        const onLog = (rec: Record<string, unknown>) => {
          if (rec.msg !== msg) return;
          clearTimeout(timer);
          logEvents.off('log', onLog);
          resolve(rec);
        };
        logEvents.on('log', onLog);
      });
    },
    client,
    addRootfs(containerId) {
      return makeBusyboxRootfs(path.join(sharedDir, containerId, 'rootfs'));
    },
    openFds: () => readdirSync(`/proc/${pid}/fd`).length,
    zombies: () => childrenOf(pid).filter((p) => {
      try {
        return /\) Z /.test(readFileSync(`/proc/${p}/stat`, 'utf8'));
      } catch {
        return false;
      }
    }).length,
    children: () => childrenOf(pid),
    async stop() {
      client.close();
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every path under `prefix` that is mounted, as the process `pid` sees it. */
export function mountsUnder(pid: number, prefix: string): string[] {
  return readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(prefix));
}

export function fdTarget(pid: number, fd: string): string {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return '';
  }
}
