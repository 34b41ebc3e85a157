import { lstat, readdir, readlink, rename, rm, stat, lutimes, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { defaultCacheDir } from '../debian/cache-dir';
import { hostPackageShipping } from '../debian/host-owner';
import { stagePackages, type StagedPackage } from '../debian/stage';
import { resolveLibraryClosure, type ElfRoot } from '../elf/library-closure';
import { stripElf } from '../elf/strip';
import { buildAgentSnapshot } from './agent-snapshot';
import { lookupInTree } from '../elf/tree-lookup';
import { resolveInsideRoot } from './guest-path';
import { formatBytes, silentProgress, timedStep, type Progress } from '../progress/progress';
import { loadDeclaration, type LoadedDeclaration } from './declaration';
import { normalizeGuestPath } from './guest-path';
import { sourceDateEpoch } from './source-date-epoch';
import { TreeWriter } from './tree-writer';

export type InitKind = 'agent' | 'test-shell';

export interface BuildRootfsOptions {
  /** rootfs/guest.json or another declaration. */
  declarationPath: string;
  /** The tree to create; replaced as a whole only when the build succeeds. */
  outputDir: string;
  /** 'agent' (final image: /sbin/init execs node on the agent) or 'test-shell'. */
  init: InitKind;
  cacheDir?: string;
  sourceDateEpoch?: number;
  progress?: Progress;
}

export interface RootfsResult {
  dir: string;
  /** Regular files, directories and symlinks in the tree. */
  entries: number;
  /** Sum of regular file sizes. */
  fileBytes: number;
  /** Per declared binary or addon: the libraries its closure pulled in and their total size. */
  closures: Array<{ binary: string; libraries: string[]; libraryBytes: number }>;
  skipped: string[];
}

/** Assembles the guest tree a declaration describes: packages, library closures, agent, /etc, init. */
export async function buildRootfs(options: BuildRootfsOptions): Promise<RootfsResult> {
  const progress = options.progress ?? silentProgress;
  const declaration = await loadDeclaration(options.declarationPath);
  const initProgram = declaration.inits[options.init];
  if (!initProgram) throw new Error(`rootfs init ${options.init}: not in ${declaration.file} (have ${Object.keys(declaration.inits).join(', ')})`);
  const initPath = path.resolve(declaration.baseDir, initProgram);
  if (!(await stat(initPath).then((s) => s.isFile(), () => false))) {
    throw new Error(`rootfs init ${options.init}: ${initPath} is missing (the agent's init is built with the addon: bash scripts/setup.sh)`);
  }
  const epoch = options.sourceDateEpoch ?? sourceDateEpoch();
  const outputDir = path.resolve(options.outputDir);
  await mkdir(path.dirname(outputDir), { recursive: true });
  const partial = `${outputDir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  try {
    const packages = await timedStep(progress, 'rootfs: stage Debian packages', () =>
      stagePackages(declaration.packages, options.cacheDir ?? defaultCacheDir(), progress));
    const result = await populate(new TreeWriter(partial), declaration, packages, initPath, options.init, progress);
    await setAllTimes(partial, epoch);
    await assertReplaceable(outputDir);
    await rm(outputDir, { recursive: true, force: true });
    await rename(partial, outputDir);
    progress(`rootfs: ${result.entries} entries, ${formatBytes(result.fileBytes)} of files -> ${outputDir}`);
    return { ...result, dir: outputDir };
  } catch (e) {
    await rm(partial, { recursive: true, force: true });
    throw e;
  }
}

async function populate(
  tree: TreeWriter, declaration: LoadedDeclaration, packages: StagedPackage[], initPath: string, init: InitKind, progress: Progress,
): Promise<Omit<RootfsResult, 'dir'>> {
  const fromBase = (p: string) => path.resolve(declaration.baseDir, p);
  await tree.directory('/', 0o755);
  for (const d of declaration.directories) await tree.directory(d.path, parseInt(d.mode, 8));

  const elfRoots: ElfRoot[] = [];
  for (const pkg of packages) {
    const declared = declaration.packages.find((p) => p.name === pkg.name)!;
    for (const binary of declared.binaries ?? []) {
      const found = await lookupInTree(pkg.root, binary);
      if (!found) throw new Error(`rootfs binary ${binary}: missing from Debian package ${pkg.name}=${pkg.version}`);
      for (const link of found.symlinks) await tree.symlink(link.path, link.target);
      await tree.copyFile(found.file, path.join(pkg.root, found.file));
      elfRoots.push({ label: `${binary} (${pkg.name})`, hostPath: path.join(pkg.root, found.file), guestPath: found.file, source: { name: pkg.name, root: pkg.root } });
    }
  }

  const skipped: string[] = [];
  const agentDir = normalizeGuestPath(declaration.agent.guestDir);
  for (const file of declaration.agent.files) {
    const hostPath = fromBase(file.from);
    const guestPath = `${agentDir}/${normalizeGuestPath(file.to)}`;
    // Until the agent runs as PID 1 the test init can boot without the bundle.
    const mayBeMissing = file.optional || init === 'test-shell';
    if (mayBeMissing && !(await stat(hostPath).then(() => true, () => false))) {
      skipped.push(guestPath);
      progress(`rootfs: skipping ${guestPath}: ${hostPath} not built`);
      continue;
    }
    await tree.copyFile(guestPath, hostPath);
    if (hostPath.endsWith('.node')) elfRoots.push({ label: `${guestPath} (agent addon)`, hostPath, guestPath });
  }

  const sources = packages.map((p) => ({ name: p.name, root: p.root }));
  if (declaration.strip) {
    await timedStep(progress, `rootfs: strip ${elfRoots.length} binaries and addons`, async () => {
      for (const root of elfRoots) await stripElf(resolveInsideRoot(tree.root, root.guestPath));
    });
  }

  const closure = await timedStep(progress, 'rootfs: resolve shared-library closure', () =>
    resolveLibraryClosure(elfRoots, sources, hostPackageShipping));
  const sizeOf = new Map<string, number>();
  for (const f of closure.files) {
    for (const link of f.lookup.symlinks) await tree.symlink(link.path, link.target);
    const hostPath = path.join(f.source.root, f.lookup.file);
    await tree.copyFile(f.lookup.file, hostPath);
    sizeOf.set(path.posix.basename(f.lookup.file), (await stat(hostPath)).size);
    for (const link of f.lookup.symlinks) sizeOf.set(path.posix.basename(link.path), (await stat(hostPath)).size);
  }

  const snapshot = declaration.agent.snapshot;
  if (snapshot && init === 'agent') {
    const blob = `${agentDir}/${normalizeGuestPath(snapshot.to)}`;
    const built = await timedStep(progress, `rootfs: agent startup snapshot ${blob}`, () =>
      buildAgentSnapshot({
        node: resolveInsideRoot(tree.root, normalizeGuestPath(snapshot.node)),
        entry: fromBase(snapshot.from),
        blob: resolveInsideRoot(tree.root, blob),
      }));
    progress(`rootfs: ${blob}: ${formatBytes(built.bytes)}${built.keepsBytecode ? ', with bytecode' : `, without bytecode (${built.fallbackReason})`}`);
  }

  for (const l of declaration.links) await tree.symlink(l.path, l.target);
  for (const f of declaration.files) await tree.copyFile(f.path, fromBase(f.from), parseInt(f.mode, 8));
  await tree.copyFile('/sbin/init', initPath, 0o755);
  // The kernel runs /init from an initramfs and /sbin/init from a disk root: one program for both.
  await tree.symlink('/init', 'sbin/init');

  const closures = [...closure.perRoot].map(([binary, libraries]) => ({
    binary, libraries, libraryBytes: libraries.reduce((sum, l) => sum + (sizeOf.get(l) ?? 0), 0),
  }));
  const { entries, fileBytes } = await countTree(tree.root);
  return { entries, fileBytes, closures, skipped };
}

/** Only an empty directory or a tree this builder made (its /init -> sbin/init link) is replaced. */
async function assertReplaceable(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => undefined);
  if (!names || names.length === 0) return;
  const initLink = await readlink(path.join(dir, 'init')).catch(() => undefined);
  if (initLink !== 'sbin/init') throw new Error(`replace ${dir}: refusing, it is not empty and not a rootfs tree built by image-builder`);
}

/** Every entry gets the same atime/mtime (symlinks included) so archives of the tree are stable. */
async function setAllTimes(root: string, epoch: number): Promise<void> {
  const visit = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.isDirectory()) for (const name of await readdir(p)) await visit(path.join(p, name));
    await lutimes(p, epoch, epoch);
  };
  await visit(root);
}

async function countTree(root: string): Promise<{ entries: number; fileBytes: number }> {
  let entries = 0;
  let fileBytes = 0;
  const visit = async (p: string): Promise<void> => {
    for (const name of await readdir(p)) {
      const child = path.join(p, name);
      const st = await lstat(child);
      entries++;
      if (st.isFile()) fileBytes += st.size;
      if (st.isDirectory()) await visit(child);
    }
  };
  await visit(root);
  return { entries, fileBytes };
}
