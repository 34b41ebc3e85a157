// Scenario runners for tests that need real mounts or network changes: a TS entry bundled with
// esbuild (as scripts/build.mjs bundles the agent) and run as root under unshare(1), so neither
// the host nor the vitest worker's namespaces are touched. The runner prints one JSON line,
// { result } or { error }.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { bundleForNode } from './bundle-for-node';

const REPO = path.resolve(__dirname, '../..');
const ADDON = path.join(REPO, 'agent/native/build/Release/kata_native.node');
const run = promisify(execFile);

export { bundleForNode };

export interface ScenarioRunner {
  /** Runs scenario `name` in a fresh directory; resolves with its result, throws its error. */
  run(name: string, ...args: string[]): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The temp directory holding the bundle and every scenario's directory. */
  readonly work: string;
  dispose(): void;
}

export async function prepareScenarios(entry: string, unshareArgs: string[], prefix: string): Promise<ScenarioRunner> {
  const work = mkdtempSync(path.join(tmpdir(), prefix));
  const runner = await bundleForNode(entry, path.join(work, `${path.basename(entry, '.ts')}.mjs`));
  return {
    work,
    async run(name, ...args) {
      const dir = mkdtempSync(path.join(work, `${name}-`));
      const { stdout, stderr } = await run('unshare', [...unshareArgs, process.execPath, runner, name, dir, ...args], {
        env: { ...process.env, KATA_NATIVE_ADDON: ADDON },
        timeout: 30_000,
      }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`scenario ${name} failed: ${err.message}\nstdout: ${err.stdout}\nstderr: ${err.stderr}`);
      });
      const parsed = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { result?: unknown; error?: unknown };
      if (parsed.error) throw new Error(`scenario ${name}: ${JSON.stringify(parsed.error)}\n${stderr}`);
      return parsed.result;
    },
    dispose: () => rmSync(work, { recursive: true, force: true }),
  };
}
