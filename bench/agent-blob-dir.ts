// A scratch directory laid out as the guest's agent directory, for benchmarks that start the agent
// from a snapshot blob on the host: the blob finds the addon and grpc-js beside itself.
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function agentBlobDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'native'));
  copyFileSync('dist/native/kata_native.node', join(dir, 'native/kata_native.node'));
  copyFileSync('dist/grpc-js.cjs', join(dir, 'grpc-js.cjs'));
  return dir;
}
