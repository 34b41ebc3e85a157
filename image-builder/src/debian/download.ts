import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Progress } from '../progress/progress';
import { runTool, ToolError } from '../progress/run-tool';
import { formatPackageRef, packageCacheKey, type DebianPackageRef } from './package-ref';

/**
 * Fetches one .deb with `apt-get download` (no install, no root needed) into the cache, once.
 * Returns the cached file's path.
 */
export async function downloadDeb(ref: DebianPackageRef, cacheDir: string, progress: Progress): Promise<string> {
  const debDir = path.join(cacheDir, 'debs');
  const cached = path.join(debDir, `${packageCacheKey(ref)}.deb`);
  if (await isFile(cached)) return cached;
  await mkdir(debDir, { recursive: true });
  progress(`debian: apt-get download ${formatPackageRef(ref)}`);
  // A private directory per download: concurrent builds never see each other's partial files.
  const scratch = await mkdtemp(path.join(debDir, '.download-'));
  try {
    await runTool('apt-get', ['download', '-q', formatPackageRef(ref)], { cwd: scratch }).catch((e: unknown) => {
      throw explainDownloadFailure(ref, e);
    });
    const debs = (await readdir(scratch)).filter((f) => f.endsWith('.deb'));
    if (debs.length !== 1) throw new Error(`download Debian package ${formatPackageRef(ref)}: expected one .deb, got ${debs.length}`);
    await rename(path.join(scratch, debs[0]!), cached);
    return cached;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Fetches several .debs with one apt-get run (apt's start-up dominates per-package calls), filling
 * the cache. Best effort: if any is missing the batch fails as a whole and the caller falls back to
 * `downloadDeb` per package, which reports exactly which one.
 */
export async function prefetchDebs(refs: DebianPackageRef[], cacheDir: string, progress: Progress): Promise<void> {
  const debDir = path.join(cacheDir, 'debs');
  const wanted: DebianPackageRef[] = [];
  for (const ref of refs) if (!(await isFile(path.join(debDir, `${packageCacheKey(ref)}.deb`)))) wanted.push(ref);
  if (wanted.length < 2) return;
  await mkdir(debDir, { recursive: true });
  progress(`debian: apt-get download ${wanted.length} packages`);
  // A package apt cannot fetch fails the whole batch; drop the ones its errors name and retry.
  for (let attempt = 0; attempt < 3 && wanted.length > 1; attempt++) {
    const scratch = await mkdtemp(path.join(debDir, '.download-'));
    try {
      await runTool('apt-get', ['download', '-q', ...wanted.map(formatPackageRef)], { cwd: scratch });
      const files = (await readdir(scratch)).filter((f) => f.endsWith('.deb'));
      for (const ref of wanted) {
        // apt names files name_version_arch.deb with the epoch's ':' written as %3a.
        const prefix = `${ref.name}_${ref.version.replaceAll(':', '%3a')}_`;
        const file = files.find((f) => f.startsWith(prefix));
        if (file) await rename(path.join(scratch, file), path.join(debDir, `${packageCacheKey(ref)}.deb`));
      }
      return;
    } catch (e) {
      const output = e instanceof ToolError ? e.output : '';
      const named = wanted.filter((r) => output.includes(`'${r.name}'`) || output.includes(`'${r.name}:`) || output.includes(`package ${r.name}\n`) || output.endsWith(`package ${r.name}`));
      if (!named.length) return; // per-package downloads follow and explain the failure
      wanted.splice(0, wanted.length, ...wanted.filter((r) => !named.includes(r)));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}

function explainDownloadFailure(ref: DebianPackageRef, e: unknown): Error {
  const output = e instanceof ToolError ? e.output : String(e);
  const apt = output.split('\n').filter((l) => l.startsWith('E:')).join(' ') || output;
  if (/Unable to locate package|has no installation candidate|No packages found/.test(output)) {
    return new Error(`Debian package ${ref.name}: not found in the configured apt sources (${apt}); check its name in rootfs/guest.json or run apt-get update`);
  }
  if (/Version '.*' for '.*' was not found|Can't find a source to download version/.test(output)) {
    return new VersionNotDownloadable(`Debian package ${formatPackageRef(ref)}: version not available (${apt}); see \`apt-cache policy ${ref.name}\` and update rootfs/guest.json`);
  }
  return new Error(`download Debian package ${formatPackageRef(ref)}: ${e instanceof Error ? e.message : output}`);
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

/** The package exists but not in the declared version, or that version has no reachable source. */
export class VersionNotDownloadable extends Error {}
