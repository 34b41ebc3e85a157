// Bundles the agent, the host CLI and the image builder, each into ONE file under dist/.
// The agent bundle needs nothing from node_modules at run time except native addons,
// which are copied beside it (dist/native/).
import { build } from 'esbuild';
import { chmodSync, cpSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { NODE_BUNDLE } from './esbuild-options.mjs';

const common = { ...NODE_BUNDLE, sourcemap: 'linked', legalComments: 'none' };

const entries = [
  { in: 'agent/src/main.ts', out: 'dist/agent.js' },
  { in: 'agent/cli/agent-ctl.ts', out: 'dist/agent-ctl.js' },
  { in: 'image-builder/src/cli.ts', out: 'dist/image-builder.js' },
];

// The agent again as CommonJS, the only form `node --build-snapshot` takes (the image builder
// makes the V8 startup snapshot from it; see agent/src/startup-snapshot.ts). Under a snapshot the
// entry's own require() knows only built-in modules and __filename/__dirname are the build
// machine's: at run time require() goes through createRequire() at the bundle's run-time location,
// which import.meta.url and __dirname (node-pty reads it) are made to read too.
// grpc-js is 44% of the bundle's text, and only a gRPC client (no Kata runtime) ever loads it: the
// snapshot's bundle requires it from its own file beside the bundle (dist/grpc-js.cjs), so that the
// snapshot holds (and every boot loads) only the agent's own source. (The ESM bundle keeps it
// inline: there an external import would be loaded at start.)
const grpcBesideBundle = {
  name: 'grpc-js-beside-bundle',
  setup(b) {
    b.onResolve({ filter: /^@grpc\/grpc-js$/ }, () => ({ path: './grpc-js.cjs', external: true }));
  },
};

const snapshotBuild = {
  ...common,
  format: 'cjs',
  plugins: [grpcBesideBundle],
  // The bundle's source text lives in the snapshot (V8 compiles functions from it on first call):
  // without comments and layout it is a third smaller to load. Names stay, for stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  define: { 'import.meta.url': 'globalThis.__kataAgentUrl', __dirname: 'globalThis.__kataAgentDir' },
  banner: {
    js: [
      'const __kataEntryRequire = require;',
      'let __kataRequire;',
      // While building, only the entry's require() works; at run time, one at the bundle's place.
      'var require = (id) => {',
      "  if (__kataEntryRequire('node:v8').startupSnapshot.isBuildingSnapshot()) return __kataEntryRequire(id);",
      "  __kataRequire ??= __kataEntryRequire('node:module').createRequire(globalThis.__kataAgentUrl);",
      '  return __kataRequire(id);',
      '};',
      "globalThis.__kataAgentUrl = __kataEntryRequire('node:url').pathToFileURL(__filename).href;",
      'globalThis.__kataAgentDir = __dirname;',
    ].join('\n'),
  },
};

mkdirSync('dist', { recursive: true });
for (const e of entries) {
  if (!existsSync(e.in)) continue;
  await build({ ...common, entryPoints: [e.in], outfile: e.out });
  // Programs (`#!/usr/bin/env node`, NODE_BUNDLE's banner): dist/agent-ctl.js and
  // dist/image-builder.js are package.json's `bin` commands.
  chmodSync(e.out, 0o755);
}
await build({ ...snapshotBuild, entryPoints: ['agent/src/main.ts'], outfile: 'dist/agent-snapshot.cjs' });
await build({ ...common, format: 'cjs', banner: {}, minifyWhitespace: true, minifySyntax: true, entryPoints: ['@grpc/grpc-js'], outfile: 'dist/grpc-js.cjs' });
// Native addons ship beside the bundle.
// node-pty looks for its addon at ./build/Release/pty.node relative to the bundle.
const addons = [
  ['agent/native/build/Release/kata_native.node', 'dist/native/kata_native.node'],
  // Not an addon: the image's /sbin/init, which execs Node on the agent (init_launcher.c).
  ['agent/native/build/Release/kata_agent_init', 'dist/native/kata-agent-init'],
  ['node_modules/node-pty/build/Release/pty.node', 'dist/build/Release/pty.node'],
];
for (const [from, to] of addons) {
  if (existsSync(from)) {
    mkdirSync(dirname(to), { recursive: true });
    cpSync(from, to);
  }
}
