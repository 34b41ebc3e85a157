// Runs a TypeScript benchmark: bundles bench/NAME.ts with esbuild into dist/bench/ and runs it
// with node from the repository root, passing the remaining arguments through.
//   node bench/run.mjs boot  [--rounds N] [--accel auto|kvm|tcg] [--initrd F] [--image F --ready RE]
//   node bench/run.mjs image [--init agent|test-shell] [--zstd-level N] [--skip-zstd]
//   node bench/run.mjs container [--rounds N] [--mb N]
//   node bench/run.mjs agent-go [--rounds N] [--calls N] [--bundle dist/agent.js] [--skip-read-stdout]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const [name, ...args] = process.argv.slice(2);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'bench', `${name}.ts`);
if (!name || !existsSync(entry)) {
  console.error(`usage: node bench/run.mjs NAME [args]: no bench/${name ?? 'NAME'}.ts`);
  process.exit(2);
}
const outfile = join(root, 'dist/bench', `${name}.mjs`);
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  logLevel: 'warning',
});
const child = spawn(process.execPath, [outfile, ...args], { stdio: 'inherit', cwd: root });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
