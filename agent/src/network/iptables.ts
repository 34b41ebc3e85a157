// GetIPTables / SetIPTables: the guest's iptables-save and iptables-restore (ip6tables-* for
// IPv6), the rules passing through stdin/stdout as the tools document. The binaries ship in
// the image; they are looked up in the sbin directories first, since the agent's PATH may be bare.
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { Code, RpcError } from '../ttrpc/status';

const SEARCH_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
const TIMEOUT_MS = 60_000;

async function findTool(name: string): Promise<string> {
  const dirs = [...SEARCH_DIRS, ...(process.env.PATH ?? '').split(':').filter(Boolean)];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; next directory
    }
  }
  throw new RpcError(Code.FAILED_PRECONDITION, `${name} is not installed in the guest (looked in ${dirs.join(', ')})`);
}

interface ToolResult {
  stdout: Buffer;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
}

function runTool(file: string, args: string[], input: Buffer | undefined): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: TIMEOUT_MS, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    // A tool that exits before reading all its input must not turn into an EPIPE crash.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? Buffer.alloc(0));
    child.on('close', (status, signal) =>
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8').trim(), status, signal }),
    );
  });
}

function failure(tool: string, r: ToolResult, code: Code): RpcError {
  if (r.signal === 'SIGKILL') return new RpcError(Code.DEADLINE_EXCEEDED, `${tool}: no answer in ${TIMEOUT_MS / 1000} s, killed`);
  const how = r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
  return new RpcError(code, `${tool} failed (${how}): ${r.stderr || 'no message'}`);
}

/** The current rules in iptables-save format. */
export async function saveIptables(ipv6: boolean): Promise<Buffer> {
  const name = ipv6 ? 'ip6tables-save' : 'iptables-save';
  const r = await runTool(await findTool(name), [], undefined);
  if (r.status !== 0) throw failure(name, r, Code.INTERNAL);
  return r.stdout;
}

/** Applies rules in iptables-save format; returns what the tool printed. */
export async function restoreIptables(ipv6: boolean, rules: Buffer): Promise<Buffer> {
  const name = ipv6 ? 'ip6tables-restore' : 'iptables-restore';
  // --wait: another iptables user holding the xtables lock is waited for (5 s, as Kata), not an error.
  const r = await runTool(await findTool(name), ['--wait', '5'], rules);
  // iptables-restore rejects the whole input atomically, so a failure changes nothing.
  if (r.status !== 0) throw failure(name, r, Code.INVALID_ARGUMENT);
  return r.stdout;
}
