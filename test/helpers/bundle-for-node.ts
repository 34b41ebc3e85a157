// One esbuild configuration for Node bundles made by tests and benchmarks: ESM with a require()
// for CommonJS dependencies, .proto files as text, native addons left outside (as scripts/build.mjs
// bundles the agent). No __dirname here: benchmarks import this from an ESM bundle.
import { build, type BuildOptions } from 'esbuild';

/** Bundles a test entry the way scripts/build.mjs bundles the agent (ESM with a require()). */
export async function bundleForNode(entry: string, outfile: string, extra: Pick<BuildOptions, 'plugins'> = {}): Promise<string> {
  await build({
    ...extra,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    loader: { '.proto': 'text' },
    // The addon is loaded at run time from KATA_NATIVE_ADDON, never bundled.
    external: ['*.node'],
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return outfile;
}
