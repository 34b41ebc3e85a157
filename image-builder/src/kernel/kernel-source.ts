// The pinned kernel source (kernel-config/source.json): a Debian linux-source-* tarball, extracted
// once per package version into the cache.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './run-command';

export interface SourcePin {
  /** Debian package name, e.g. linux-source-6.1. */
  package: string;
  /** Debian package version the config was written and checked against. */
  version: string;
  tarball: string;
  /** Top directory inside the tarball. */
  topDir: string;
}

export async function readSourcePin(configDir: string): Promise<SourcePin> {
  const path = join(configDir, 'source.json');
  let pin: Partial<SourcePin>;
  try {
    pin = JSON.parse(await readFile(path, 'utf8')) as Partial<SourcePin>;
  } catch (err) {
    throw new Error(`read kernel source pin ${path}: ${(err as Error).message}`);
  }
  for (const key of ['package', 'version', 'tarball', 'topDir'] as const) {
    if (typeof pin[key] !== 'string' || pin[key] === '') throw new Error(`read kernel source pin ${path}: missing "${key}"`);
  }
  return pin as SourcePin;
}

/** The installed version of the pinned package, from dpkg (undefined when dpkg does not know it). */
export async function installedVersion(pkg: string): Promise<string | undefined> {
  try {
    const [version] = await runCommand('dpkg-query', ['-W', '-f=${Version}', pkg]);
    return version && version.length > 0 ? version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Extracts the tarball into <cache>/kernel/source/<package>_<version>/ unless already there.
 * Extraction goes to a temporary directory renamed into place, so an interrupted run leaves
 * nothing that looks complete.
 */
export async function ensureSourceTree(pin: SourcePin, version: string, kernelCache: string, log: (m: string) => void): Promise<string> {
  const root = join(kernelCache, 'source', `${pin.package}_${version}`);
  const tree = join(root, pin.topDir);
  if (existsSync(join(tree, 'Makefile'))) return tree;
  if (!existsSync(pin.tarball)) {
    throw new Error(`extract kernel source ${pin.tarball}: not found (apt-get install ${pin.package})`);
  }
  const tmp = `${root}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  log(`extracting ${pin.tarball} ...`);
  await runCommand('tar', ['-xJf', pin.tarball, '-C', tmp]);
  if (!existsSync(join(tmp, pin.topDir, 'Makefile'))) {
    await rm(tmp, { recursive: true, force: true });
    throw new Error(`extract kernel source ${pin.tarball}: no ${pin.topDir}/Makefile inside`);
  }
  await rm(root, { recursive: true, force: true });
  await rename(tmp, root);
  return tree;
}
