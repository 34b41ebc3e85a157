// Builds the guest kernel from the pinned Debian source and our fragments, and caches it by a hash
// of (source package version, fragment contents). A cached kernel is returned without running make.
//
// Layout under ${XDG_CACHE_HOME:-~/.cache}/kata-node-agent/kernel/:
//   source/<package>_<version>/<topDir>   extracted tarball (shared by every config)
//   build/<package>_<version>/            make O= object tree, reused so a changed fragment
//                                         rebuilds only what depends on the changed options
//   <key>/{bzImage,vmlinux,config,build-info.json}   finished kernels; build-info.json is
//                                         written last and marks the entry complete
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { withLock } from './build-lock';
import { cacheRoot } from './cache-dir';
import { loadFragments, type ConfigFragment } from './fragments';
import { findDroppedOptions, formatMismatches, parseKconfig } from './kconfig';
import { ensureSourceTree, installedVersion, readSourcePin, type SourcePin } from './kernel-source';
import { findKernelConfigDir } from './project-paths';
import { runCommand } from './run-command';

/** Bump when the build steps change in a way that changes the output for the same inputs. */
const RECIPE_VERSION = 2;

/**
 * Fixed values for what Kbuild would otherwise take from the build machine and clock (uname -v,
 * /proc/version), so the same inputs give the same kernel. The date is the source tarball's
 * mtime, which dpkg sets from the package: the same on every machine with that version.
 */
async function reproducibleBuildEnv(tarball: string): Promise<NodeJS.ProcessEnv> {
  const sourceDate = (await stat(tarball)).mtime;
  return {
    ...process.env,
    KBUILD_BUILD_USER: 'kata-node-agent',
    KBUILD_BUILD_HOST: 'builder',
    KBUILD_BUILD_VERSION: '1',
    KBUILD_BUILD_TIMESTAMP: sourceDate.toUTCString(),
  };
}

export interface KernelBuildOptions {
  /** The kernel-config/ directory (source.json + fragments/); found from this module by default. */
  configDir?: string;
  /** Replaces ${XDG_CACHE_HOME:-~/.cache}/kata-node-agent/kernel. */
  cacheDir?: string;
  /** make -j; defaults to the number of CPUs. */
  jobs?: number;
  /** Rebuild even when the cache has this kernel. */
  force?: boolean;
  /** Progress and notes, one line each. */
  log?: (message: string) => void;
}

export interface KernelArtifacts {
  key: string;
  dir: string;
  bzImage: string;
  vmlinux: string;
  config: string;
  sourcePackage: string;
  sourceVersion: string;
  fromCache: boolean;
  /** Wall time of the build that produced this entry. */
  buildSeconds: number;
}

interface BuildInfo {
  key: string;
  /** Kbuild lines (CC, LD, ...) of that build: the next build's progress estimate. */
  makeSteps?: number;
  sourcePackage: string;
  sourceVersion: string;
  fragments: string[];
  buildSeconds: number;
  builtAt: string;
}

export function kernelCacheKey(pin: SourcePin, sourceVersion: string, fragments: readonly ConfigFragment[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ recipe: RECIPE_VERSION, package: pin.package, version: sourceVersion }));
  for (const f of fragments) hash.update(`\0${f.name}\0${f.text}`);
  return hash.digest('hex').slice(0, 16);
}

function artifactsIn(dir: string, key: string, info: BuildInfo, fromCache: boolean): KernelArtifacts {
  return {
    key,
    dir,
    bzImage: join(dir, 'bzImage'),
    vmlinux: join(dir, 'vmlinux'),
    config: join(dir, 'config'),
    sourcePackage: info.sourcePackage,
    sourceVersion: info.sourceVersion,
    fromCache,
    buildSeconds: info.buildSeconds,
  };
}

async function readBuildInfo(dir: string): Promise<BuildInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'build-info.json'), 'utf8')) as BuildInfo;
  } catch {
    return undefined;
  }
}

/**
 * Counts Kbuild's step lines and prints one progress line at most every few seconds; with the
 * step count of an earlier cold build it can say roughly how far along a cold build is.
 */
function makeProgress(log: (m: string) => void, started: number, expectedSteps: number | undefined) {
  let steps = 0;
  let lastReport = 0;
  return {
    steps: () => steps,
    onLine: (line: string): void => {
      const step = /^\s+([A-Z][A-Z0-9_]*)\s+(\S+)/.exec(line);
      if (!step) return;
      steps += 1;
      const now = Date.now();
      if (now - lastReport < 5000) return;
      lastReport = now;
      const share = expectedSteps ? ` (~${Math.min(99, Math.round((100 * steps) / expectedSteps))}% of a cold build)` : '';
      log(`make: ${steps} steps${share}, ${Math.round((now - started) / 1000)} s, ${step[1]} ${step[2]}`);
    },
  };
}

/** The largest step count any cached kernel recorded: a cold build's size. */
async function coldBuildSteps(kernelCache: string): Promise<number | undefined> {
  let best: number | undefined;
  for (const entry of await readdir(kernelCache).catch(() => [] as string[])) {
    const steps = (await readBuildInfo(join(kernelCache, entry)))?.makeSteps;
    if (steps && (!best || steps > best)) best = steps;
  }
  return best;
}

export async function ensureKernel(opts: KernelBuildOptions = {}): Promise<KernelArtifacts> {
  const log = opts.log ?? (() => {});
  const configDir = opts.configDir ?? findKernelConfigDir();
  const kernelCache = opts.cacheDir ?? join(cacheRoot(), 'kernel');
  const pin = await readSourcePin(configDir);
  const fragments = await loadFragments(join(configDir, 'fragments'));

  // The cache is keyed by what is installed; a newer Debian upload than the pin still builds
  // (bookworm's archive only offers its latest), but says so.
  const installed = await installedVersion(pin.package);
  const sourceVersion = installed ?? pin.version;
  if (installed && installed !== pin.version) {
    log(`warning: ${pin.package} ${installed} is installed, kernel-config/source.json pins ${pin.version}`);
  }

  const key = kernelCacheKey(pin, sourceVersion, fragments);
  const outDir = join(kernelCache, key);
  const cached = opts.force ? undefined : await readBuildInfo(outDir);
  if (cached) return artifactsIn(outDir, key, cached, true);

  const buildId = `${pin.package}_${sourceVersion}`;
  const buildDir = join(kernelCache, 'build', buildId);
  await mkdir(buildDir, { recursive: true });
  return withLock(
    join(kernelCache, 'build', `${buildId}.lock`),
    60 * 60_000,
    () => log(`waiting for another kernel build in ${buildDir}`),
    async () => {
      // Someone else may have built the same key while we waited.
      const built = opts.force ? undefined : await readBuildInfo(outDir);
      if (built) return artifactsIn(outDir, key, built, true);

      const started = Date.now();
      const srcTree = await ensureSourceTree(pin, sourceVersion, kernelCache, log);
      const env = await reproducibleBuildEnv(pin.tarball);
      const make = (args: string[], onLine?: (l: string) => void) =>
        runCommand('make', ['-C', srcTree, `O=${buildDir}`, ...args], { onLine, env });

      log(`kernel ${key}: tinyconfig + ${fragments.length} fragments (${pin.package} ${sourceVersion})`);
      await make(['tinyconfig']);
      await runCommand(
        join(srcTree, 'scripts/kconfig/merge_config.sh'),
        ['-m', '-O', buildDir, join(buildDir, '.config'), ...fragments.map((f) => f.path)],
        { cwd: srcTree, env },
      );
      await make(['olddefconfig']);

      const finalConfig = parseKconfig(await readFile(join(buildDir, '.config'), 'utf8'));
      const dropped = findDroppedOptions(
        fragments.map((f) => ({ fragment: f.name, values: f.values })),
        finalConfig,
      );
      if (dropped.length > 0) {
        throw new Error(
          `kernel config check: ${dropped.length} option(s) requested by kernel-config/fragments did not survive olddefconfig ` +
            `(unmet dependencies or invisible symbols):\n${formatMismatches(dropped)}`,
        );
      }

      const jobs = opts.jobs ?? availableParallelism();
      log(`make -j${jobs} bzImage in ${buildDir}`);
      const progress = makeProgress(log, started, await coldBuildSteps(kernelCache));
      await make([`-j${jobs}`, 'bzImage'], progress.onLine);

      const tmp = `${outDir}.tmp-${process.pid}`;
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      await copyFile(join(buildDir, 'arch/x86/boot/bzImage'), join(tmp, 'bzImage'));
      await copyFile(join(buildDir, 'vmlinux'), join(tmp, 'vmlinux'));
      await copyFile(join(buildDir, '.config'), join(tmp, 'config'));
      const info: BuildInfo = {
        key,
        makeSteps: progress.steps(),
        sourcePackage: pin.package,
        sourceVersion,
        fragments: fragments.map((f) => f.name),
        buildSeconds: Math.round((Date.now() - started) / 100) / 10,
        builtAt: new Date().toISOString(),
      };
      await writeFile(join(tmp, 'build-info.json'), `${JSON.stringify(info, null, 2)}\n`);
      if (existsSync(outDir)) await rm(outDir, { recursive: true, force: true });
      await rename(tmp, outDir);
      const size = (await stat(join(outDir, 'bzImage'))).size;
      log(`kernel ${key}: bzImage ${(size / 1048576).toFixed(2)} MiB, built in ${info.buildSeconds} s -> ${outDir}`);
      return artifactsIn(outDir, key, info, false);
    },
  );
}
