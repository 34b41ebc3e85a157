// Runs the bundled agent (dist/agent.js) as a child process and waits for its "agent ready" line.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SNAPSHOT_NODE_OPTIONS } from '../../image-builder/src/rootfs/agent-snapshot';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const AGENT_BUNDLE = path.join(REPO_ROOT, 'dist/agent.js');
export const CTL_BUNDLE = path.join(REPO_ROOT, 'dist/agent-ctl.js');

export interface AgentProcess {
  child: ChildProcess;
  address: string;
  logs: Array<Record<string, unknown>>;
  dir: string;
  stop(): Promise<number | null>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface AgentProcessOptions {
  args?: string[];
  /** Node's own options, before the bundle (e.g. --require a probe). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Opens an IPC channel to the child (for probes loaded with nodeArgs). */
  ipc?: boolean;
  /** Starts the agent from this V8 startup snapshot instead of dist/agent.js. */
  snapshotBlob?: string;
}

export async function startAgentProcess(opts: AgentProcessOptions = {}): Promise<AgentProcess> {
  const dir = tempDir('agent-');
  // From a blob, as the image's init starts it.
  const target = opts.snapshotBlob ? [...SNAPSHOT_NODE_OPTIONS, '--snapshot-blob', opts.snapshotBlob, '--'] : [AGENT_BUNDLE];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...target, ...(opts.args ?? [])], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.ipc ? (['ipc'] as const) : [])],
  });
  const logs: Array<Record<string, unknown>> = [];
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent not ready in time; logs: ${JSON.stringify(logs)}`)), opts.timeoutMs ?? 15_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        logs.push(rec);
        if (rec.msg === 'agent ready') {
          clearTimeout(timer);
          resolve(String(rec.address));
        }
      } catch {
        logs.push({ raw: line });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code} before ready; logs: ${JSON.stringify(logs)}`));
    });
  });
  const address = await ready;
  return {
    child,
    address,
    logs,
    dir,
    stop: () =>
      new Promise((resolve) => {
        // Already gone, by exit or by a signal ('exit' has fired and will not again).
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => {
          rmSync(dir, { recursive: true, force: true });
          resolve(code);
        });
        child.kill('SIGTERM');
      }),
  };
}
