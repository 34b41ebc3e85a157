import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Progress } from '../progress/progress';
import { runTool } from '../progress/run-tool';
import { downloadDeb, prefetchDebs, VersionNotDownloadable } from './download';
import { copyInstalledPackage, hostInstalledVersion } from './host-installed';
import { packageCacheKey, type DebianPackageRef } from './package-ref';

/** A package unpacked (not installed) into its own directory tree. */
export interface StagedPackage extends DebianPackageRef {
  /** Host directory holding the package's files as they would be under / . */
  root: string;
}

/**
 * Downloads and unpacks each package with `dpkg-deb -x` into the cache, once per name+version;
 * an unpacked tree only appears (by rename) when complete, so an interrupted run is redone.
 */
export async function stagePackages(refs: DebianPackageRef[], cacheDir: string, progress: Progress): Promise<StagedPackage[]> {
  const staged: StagedPackage[] = [];
  const unstaged: DebianPackageRef[] = [];
  for (const ref of refs) if (!(await isDirectory(path.join(cacheDir, 'trees', packageCacheKey(ref))))) unstaged.push(ref);
  await prefetchDebs(unstaged, cacheDir, progress);
  for (const ref of refs) {
    const root = path.join(cacheDir, 'trees', packageCacheKey(ref));
    if (!(await isDirectory(root))) {
      const deb = await downloadDeb(ref, cacheDir, progress).catch(async (e: unknown) => {
        // Fall back to the host's installed copy only for the exact version declared.
        if (e instanceof VersionNotDownloadable && (await hostInstalledVersion(ref.name)) === ref.version) return undefined;
        throw e;
      });
      await mkdir(path.dirname(root), { recursive: true });
      const scratch = await mkdtemp(path.join(path.dirname(root), '.extract-'));
      try {
        if (deb) {
          progress(`debian: dpkg-deb -x ${path.basename(deb)}`);
          await runTool('dpkg-deb', ['-x', deb, scratch]).catch((e: Error) => {
            throw new Error(`unpack Debian package ${ref.name} (${deb}): ${e.message}`);
          });
        } else {
          await copyInstalledPackage(ref, scratch, progress);
        }
        await rename(scratch, root);
      } catch (e) {
        await rm(scratch, { recursive: true, force: true });
        throw e;
      }
    }
    staged.push({ ...ref, root });
  }
  return staged;
}

async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}
