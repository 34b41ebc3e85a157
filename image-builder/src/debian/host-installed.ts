import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, lstat, mkdir, readFile, readlink, symlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Progress } from '../progress/progress';
import { runTool } from '../progress/run-tool';
import { formatPackageRef, type DebianPackageRef } from './package-ref';

/** The installed version of a package on this host, or undefined. */
export async function hostInstalledVersion(name: string): Promise<string | undefined> {
  try {
    const { stdout } = await runTool('dpkg-query', ['-W', '-f', '${Status}\t${Version}', name]);
    const [status, version] = stdout.split('\t');
    return status?.endsWith(' installed') ? version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Rebuilds a package's file tree from the copy dpkg installed on this host, for a package whose
 * repository this machine cannot reach (the machine image's Node 20 comes from nodesource, which
 * is disabled here). Only the exact declared version is accepted, and every regular file is checked
 * against dpkg's own md5sums: files modified or removed on the host since (e.g. a globally updated
 * npm) are left out, so whatever is staged is what the package shipped.
 */
export async function copyInstalledPackage(ref: DebianPackageRef, destination: string, progress: Progress): Promise<void> {
  const installed = await hostInstalledVersion(ref.name);
  if (installed !== ref.version) {
    throw new Error(`Debian package ${formatPackageRef(ref)}: not downloadable here and ${installed ? `the host has ${installed} installed` : 'not installed on the host'}`);
  }
  progress(`debian: ${formatPackageRef(ref)} is not downloadable here; copying the host's installed files (md5-checked)`);
  const md5sums = await readMd5sums(ref.name);
  const { stdout } = await runTool('dpkg-query', ['-L', ref.name]);
  const leftOut: string[] = [];
  for (const file of stdout.split('\n').filter((l) => l.startsWith('/'))) {
    const st = await lstat(file).catch(() => undefined);
    if (!st) { leftOut.push(file); continue; }
    const target = path.join(destination, file);
    if (st.isDirectory()) { await mkdir(target, { recursive: true }); continue; }
    await mkdir(path.dirname(target), { recursive: true });
    if (st.isSymbolicLink()) { await symlink(await readlink(file), target); continue; }
    if (!st.isFile()) continue;
    const expected = md5sums.get(file.slice(1));
    if (expected && (await md5Of(file)) !== expected) { leftOut.push(file); continue; }
    await copyFile(file, target);
  }
  if (leftOut.length) progress(`debian: ${leftOut.length} files of ${ref.name} are missing or modified on the host and were left out (e.g. ${leftOut[0]})`);
}

async function readMd5sums(name: string): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  for (const candidate of [`/var/lib/dpkg/info/${name}.md5sums`, `/var/lib/dpkg/info/${name}:amd64.md5sums`]) {
    const text = await readFile(candidate, 'utf8').catch(() => undefined);
    if (!text) continue;
    for (const line of text.split('\n')) {
      const m = /^([0-9a-f]{32})\s+(.+)$/.exec(line);
      if (m) sums.set(m[2]!, m[1]!);
    }
  }
  return sums;
}

async function md5Of(file: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}
