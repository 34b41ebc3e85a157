// Node bundles made by tests and benchmarks, with the options scripts/build.mjs bundles the agent
// with (scripts/esbuild-options.mjs). No __dirname here: benchmarks import this from an ESM bundle.
import { build, type BuildOptions } from 'esbuild';
import { NODE_BUNDLE } from '../../scripts/esbuild-options.mjs';

/** Bundles a test entry the way scripts/build.mjs bundles the agent (ESM with a require()). */
export async function bundleForNode(entry: string, outfile: string, extra: Pick<BuildOptions, 'plugins'> = {}): Promise<string> {
  await build({ ...NODE_BUNDLE, ...extra, entryPoints: [entry], outfile });
  return outfile;
}
