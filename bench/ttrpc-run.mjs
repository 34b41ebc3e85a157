// Runs bench/ttrpc.ts: bundles it with esbuild (already a dev dependency) into test/go/bin/ and
// runs the bundle with node, passing the arguments through. Usage: node bench/ttrpc-run.mjs [--rounds N] [--calls N] [--payload BYTES]
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { NODE_BUNDLE } from '../scripts/esbuild-options.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'test/go/bin/bench-ttrpc.mjs');
mkdirSync(dirname(outfile), { recursive: true });
await build({ ...NODE_BUNDLE, entryPoints: [join(root, 'bench/ttrpc.ts')], outfile });
const child = spawn(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
