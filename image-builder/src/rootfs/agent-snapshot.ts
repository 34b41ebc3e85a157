// The agent's V8 startup snapshot, made at image build time by the guest's own node binary (a
// blob loads only into the node build that wrote it). Starting from it skips loading and setting
// up the bundle at every boot; see agent/src/startup-snapshot.ts.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { withoutBuiltinCodeCache } from './snapshot-blob';

const execFileP = promisify(execFile);

/**
 * Node options for every start from an agent blob; the image's /sbin/init passes the same
 * (agent/native/src/init_launcher.c). `--no-rehash-snapshot`: by default V8 draws a new string hash
 * seed at each start and then re-hashes every string and hash table of the snapshot's heap, which
 * for the agent's heap is an eighth of its whole start (bench/agent-start-instructions.ts). Without
 * it the seed stays the one drawn at random when the blob was built: one per image build instead
 * of one per boot. The seed only guards hash tables against crafted colliding keys, and the keys
 * the agent hashes come from the host's runtime (the only peer it serves) and from the guest's own
 * files, not from a party that would need a secret seed kept from it.
 */
export const SNAPSHOT_NODE_OPTIONS: readonly string[] = ['--no-rehash-snapshot'];
/** The bundle's start-up code, built and probed, must not see the builder's agent settings. */
const CLEAN_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

export interface AgentSnapshotOptions {
  /** The node binary that will run the blob (the one in the guest tree). */
  node: string;
  /** The agent's CommonJS bundle (dist/agent-snapshot.cjs). */
  entry: string;
  blob: string;
  /** Arguments (after `--`) with which the blob's main must exit 0: the check that it loads. */
  probeArgs?: string[];
  /** False builds the blob without bytecode at once (the baseline of bench/agent-start-instructions). */
  keepBytecode?: boolean;
}

export interface AgentSnapshot {
  bytes: number;
  /**
   * Whether the blob keeps the bytecode of what ran while it was built. False when the node
   * binary's blob format was not the one snapshot-blob.ts reads, or the patched blob did not
   * load: the blob is then built "without code cache", which loads anywhere but compiles every
   * function again at each start.
   */
  keepsBytecode: boolean;
  /** Why the bytecode could not be kept. */
  fallbackReason?: string;
}

export async function buildAgentSnapshot(opts: AgentSnapshotOptions): Promise<AgentSnapshot> {
  // A scratch working directory keeps anything the bundle might write out of the tree.
  const scratch = await mkdtemp(path.join(tmpdir(), 'agent-snapshot-'));
  try {
    // Built with code cache, V8 keeps the compiled bytecode; the code cache that would tie the
    // blob to this machine's CPU is then dropped (snapshot-blob.ts). The start to "agent ready"
    // then runs 8% fewer instructions than from a blob that compiles everything again
    // (bench/agent-start-instructions.ts).
    let fallbackReason = opts.keepBytecode === false ? 'not asked to keep bytecode' : undefined;
    if (fallbackReason === undefined) {
      try {
        await runSnapshotBuilder(opts, scratch, { withCodeCache: true });
        await writeFile(opts.blob, withoutBuiltinCodeCache(await readFile(opts.blob)));
        await probe(opts, scratch);
      } catch (err) {
        fallbackReason = (err as Error).message;
      }
    }
    if (fallbackReason !== undefined) {
      await runSnapshotBuilder(opts, scratch, { withCodeCache: false });
      await probe(opts, scratch);
    }
    return { bytes: (await stat(opts.blob)).size, keepsBytecode: fallbackReason === undefined, fallbackReason };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function runSnapshotBuilder(opts: AgentSnapshotOptions, scratch: string, { withCodeCache }: { withCodeCache: boolean }): Promise<void> {
  const config = path.join(scratch, 'snapshot-config.json');
  await writeFile(config, JSON.stringify({ builder: path.resolve(opts.entry), withoutCodeCache: !withCodeCache }));
  const args = ['--no-warnings', '--snapshot-blob', path.resolve(opts.blob), `--build-snapshot-config=${config}`];
  try {
    await execFileP(opts.node, args, {
      cwd: scratch,
      env: CLEAN_ENV,
      timeout: 300_000,
      maxBuffer: 4 << 20,
    });
  } catch (err) {
    throw new Error(`build agent snapshot with ${opts.node}: ${commandError(err)}`);
  }
}

/** Starts the blob once: Node checks a blob only when it loads it. */
async function probe(opts: AgentSnapshotOptions, scratch: string): Promise<void> {
  const args = [...SNAPSHOT_NODE_OPTIONS, '--snapshot-blob', path.resolve(opts.blob), '--', ...(opts.probeArgs ?? ['--version'])];
  try {
    await execFileP(opts.node, args, { cwd: scratch, env: CLEAN_ENV, timeout: 60_000 });
  } catch (err) {
    throw new Error(`${path.basename(opts.blob)} does not start: ${commandError(err)}`);
  }
}

function commandError(err: unknown): string {
  const e = err as { stderr?: string; message: string };
  return (e.stderr ?? '').trim() || e.message;
}
