// The agent's V8 startup snapshot, made at image build time by the guest's own node binary (a
// blob loads only into the node build that wrote it). Starting from it skips loading the bundle
// and parsing the protobuf schema at every boot; see agent/src/startup-snapshot.ts.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface AgentSnapshotOptions {
  /** The node binary that will run the blob (the one in the guest tree). */
  node: string;
  /** The agent's CommonJS bundle (dist/agent-snapshot.cjs). */
  entry: string;
  blob: string;
}

export async function buildAgentSnapshot(opts: AgentSnapshotOptions): Promise<{ bytes: number }> {
  // A scratch working directory keeps anything the bundle might write out of the tree.
  const scratch = await mkdtemp(path.join(tmpdir(), 'agent-snapshot-'));
  try {
    // Without code cache: Node then skips its check of V8's "cached data version tag", which
    // includes the CPU features V8 found, so a blob built here also loads on a guest CPU model
    // with other features (QEMU's TCG models, a KVM host of another generation). Functions are
    // compiled on first call instead; the loaded modules and the parsed schema are still there.
    // (Measured under TCG, a code-cached blob built in the guest itself started no faster.)
    const config = path.join(scratch, 'snapshot-config.json');
    await writeFile(config, JSON.stringify({ builder: path.resolve(opts.entry), withoutCodeCache: true }));
    const args = ['--no-warnings', '--snapshot-blob', path.resolve(opts.blob), `--build-snapshot-config=${config}`];
    await execFileP(opts.node, args, {
      cwd: scratch,
      // The bundle's start-up code must not see the builder's agent settings.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      timeout: 300_000,
      maxBuffer: 4 << 20,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`build agent snapshot with ${opts.node}: ${(e.stderr ?? '').trim() || e.message}`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { bytes: (await stat(opts.blob)).size };
}
