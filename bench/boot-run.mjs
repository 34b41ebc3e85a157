// Runs bench/boot.ts: bundles it with esbuild into dist/bench/ (so it finds kernel-config/ by
// walking up) and runs it with node, passing arguments through.
//   node bench/boot-run.mjs [--rounds N] [--accel auto|kvm|tcg] [--initrd F] [--image F --ready RE]
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist/bench/boot.mjs');
await build({
  entryPoints: [join(root, 'bench/boot.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  logLevel: 'warning',
});
const child = spawn(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
