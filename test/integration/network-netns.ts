// A throwaway network namespace for the network tests: created with a unique name, veth pairs
// made inside it with `ip -n`, deleted in afterAll. The host's namespace is never changed, and
// nothing here sends traffic. Code under test runs in a child process entered into the
// namespace with `ip netns exec` (a namespace belongs to a thread, not to this vitest worker).
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RunnerCall, RunnerResult } from './network-ns-runner';
import { bundleForNode } from '../helpers/ns-scenarios';

const run = promisify(execFile);
const REPO = path.resolve(__dirname, '../..');
const ADDON = path.join(REPO, 'agent/native/build/Release/kata_native.node');

/** Why network namespaces cannot be used here (root and iproute2's `ip` are needed), or undefined. */
export const netnsMissingReason = ((): string | undefined => {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return "'ip' is not installed (apt-get install iproute2)";
  }
})();
export const canUseNetns = netnsMissingReason === undefined;

export class TestNetns {
  readonly name: string;
  readonly #work: string;
  #runner: string | undefined;
  #calls = 0;

  private constructor(name: string, work: string) {
    this.name = name;
    this.#work = work;
  }

  static async create(prefix: string): Promise<TestNetns> {
    const name = `${prefix}-${process.pid}-${Date.now().toString(36)}`;
    await run('ip', ['netns', 'add', name]);
    return new TestNetns(name, mkdtempSync(path.join(tmpdir(), `${prefix}-`)));
  }

  /** `ip -n NS ...` (optionally with -j); returns stdout. */
  async ip(...args: string[]): Promise<string> {
    const { stdout } = await run('ip', ['-n', this.name, ...args]);
    return stdout;
  }

  async ipJson<T = any>(...args: string[]): Promise<T> {
    return JSON.parse((await this.ip('-j', ...args)) || '[]') as T;
  }

  /** A command inside the namespace. */
  async exec(file: string, args: string[], input?: string): Promise<string> {
    const child = run('ip', ['netns', 'exec', this.name, file, ...args]);
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    return (await child).stdout;
  }

  /**
   * Runs the calls in a child process inside the namespace; one result per call. `onLog` sees
   * each log line the handlers write (JSON objects), so a test can act when one appears.
   */
  async calls(calls: RunnerCall[], opts: { onLog?: (entry: Record<string, unknown>) => void; env?: Record<string, string> } = {}): Promise<RunnerResult[]> {
    const runner = await this.#bundle();
    const file = path.join(this.#work, `calls-${++this.#calls}.json`);
    writeFileSync(file, JSON.stringify(calls));
    const child = spawn('ip', ['netns', 'exec', this.name, process.execPath, runner, file], {
      env: { ...process.env, KATA_NATIVE_ADDON: ADDON, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        try {
          opts.onLog?.(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, s) => resolve([c, s]));
    });
    if (code !== 0) throw new Error(`network runner failed (exit ${code ?? signal})\nstdout: ${stdout}\nstderr: ${stderr}`);
    const parsed = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { results?: RunnerResult[]; fatal?: string };
    if (!parsed.results) throw new Error(`network runner: ${parsed.fatal}\n${stderr}`);
    return parsed.results;
  }

  async call(method: string, request: { json?: unknown; bin?: Buffer }): Promise<RunnerResult> {
    const [result] = await this.calls([{ method, json: request.json, bin: request.bin?.toString('base64') }]);
    return result!;
  }

  async destroy(): Promise<void> {
    await run('ip', ['netns', 'delete', this.name]).catch(() => undefined);
    rmSync(this.#work, { recursive: true, force: true });
  }

  async #bundle(): Promise<string> {
    this.#runner ??= await bundleForNode(path.join(__dirname, 'network-ns-runner.ts'), path.join(this.#work, 'network-ns-runner.mjs'));
    return this.#runner;
  }

  /** A scratch directory that goes away with the namespace. */
  get workDir(): string {
    return this.#work;
  }

  /** `node <bundle>` inside the namespace, as a long-running child (the caller stops it). */
  spawnNode(bundle: string, env: Record<string, string>): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, process.execPath, bundle], {
      env: { ...process.env, KATA_NATIVE_ADDON: ADDON, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
}


export function ok<T = any>(r: RunnerResult): T {
  if ('ok' in r) return r.ok as T;
  throw new Error(`expected success, got ${JSON.stringify(r)}`);
}

export function failed(r: RunnerResult): { code: number; message: string } {
  if ('error' in r) return r.error;
  throw new Error(`expected an error, got ${JSON.stringify(r)}`);
}
