// The esbuild options every Node bundle here shares: the agent and its tools (scripts/build.mjs),
// and what tests and benchmarks bundle. ESM with a require() for CommonJS dependencies, native
// addons left outside (they are loaded at run time from beside the bundle). Each bundle is a
// program that starts with `#!/usr/bin/env node`, so dist/agent-ctl.js and dist/image-builder.js
// run as the package's `bin` commands.
export const NODE_BUNDLE = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['*.node'],
  logLevel: 'warning',
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};
