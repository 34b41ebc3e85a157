// CopyFile against a hostile container: while the host copies a file to <rootfs>/d/file, the
// container flips d between a directory and a symlink to a directory outside the share (a stand-in
// for the guest's /etc) as fast as it can. Not one byte may land outside.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyFile } from '../../agent/src/container/copy-file';
import { Code, RpcError } from '../../agent/src/ttrpc/status';

const CALLS = 600;
const TIME_LIMIT_MS = 30_000;

// The container's side: runs until killed or until its own deadline, whichever comes first.
const FLIPPER = `
const fs = require('node:fs');
const [d, outside, ms] = process.argv.slice(1);
const deadline = Date.now() + Number(ms);
process.stdout.write('ready\\n');
while (Date.now() < deadline) {
  try { fs.mkdirSync(d); } catch {}
  try { fs.rmSync(d, { recursive: true, force: true }); } catch {}
  try { fs.symlinkSync(outside, d); } catch {}
  try { fs.unlinkSync(d); } catch {}
}
`;

const cleanup: string[] = [];
afterEach(() => {
  for (const dir of cleanup.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('CopyFile against a container flipping a parent between a directory and a symlink', () => {
  it(`writes nothing outside the shared directory in ${CALLS} calls`, async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'copy-race-'));
    const outside = mkdtempSync(path.join(tmpdir(), 'copy-race-etc-'));
    cleanup.push(root, outside);
    const rootfs = path.join(root, 'c1/rootfs');
    mkdirSync(rootfs, { recursive: true });
    const flipper = spawn(process.execPath, ['-e', FLIPPER, path.join(rootfs, 'd'), outside, String(TIME_LIMIT_MS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      flipper.once('error', reject);
      flipper.stdout.once('data', () => resolve());
    });
    const outcomes = new Map<string, number>();
    const unexpected: string[] = [];
    const started = Date.now();
    try {
      for (let i = 0; i < CALLS && Date.now() - started < TIME_LIMIT_MS; i++) {
        const data = Buffer.from(`call ${i}\n`);
        const req = { path: `${rootfs}/d/file`, file_size: String(data.length), file_mode: 0o100644, dir_mode: 0o755, uid: -1, gid: -1, offset: '0', data };
        let outcome = 'written';
        try {
          await copyFile(req, root);
        } catch (err) {
          outcome = err instanceof RpcError ? Code[err.code] : `not an RpcError: ${String(err)}`;
          if (!(err instanceof RpcError) || ![Code.PERMISSION_DENIED, Code.NOT_FOUND, Code.FAILED_PRECONDITION].includes(err.code)) {
            unexpected.push(String(err));
          }
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    } finally {
      flipper.kill('SIGKILL');
      await new Promise((resolve) => flipper.once('exit', resolve));
    }
    const escaped = readdirSync(outside);
    console.error(`copy-file race: ${JSON.stringify(Object.fromEntries(outcomes))}; files outside: ${escaped.length}`);
    expect(escaped).toEqual([]);
    expect(unexpected).toEqual([]);
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(CALLS);
  });
});
