// virtiofsd (the Rust vhost-user-fs daemon Kata runs for its default shared filesystem) for dev
// boots and VM tests. Debian bookworm has none (QEMU 7.2's old C virtiofsd, with other flags, is
// all it ships); trixie's runs here from a staged tree: its .debs and those of the libraries it
// links (trixie's glibc among them) unpacked into one folder and started through that folder's
// own dynamic loader. A virtiofsd already on the host (a newer Debian's /usr/libexec/virtiofsd) is
// preferred. The staged tree is cached under ~/.cache/kata-node-agent/virtiofsd/<key>, keyed by
// the recipe (suite, packages, architecture), made atomically and under a lock.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { withLock } from '../kernel/build-lock';
import { cacheRoot } from '../kernel/cache-dir';
import { runTool } from '../progress/run-tool';
import { systemDebianArchiveUri } from './apt-sources';

/** The suite whose virtiofsd runs here, and everything it needs that bookworm's are too old for. */
export const VIRTIOFSD_SUITE = 'trixie';
export const VIRTIOFSD_PACKAGES = ['virtiofsd', 'libc6', 'libcap-ng0', 'libseccomp2', 'libgcc-s1'] as const;
/** Bumped when the staged tree's layout changes, so old caches are not mistaken for new ones. */
const LAYOUT_VERSION = 1;
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const HOST_CANDIDATES = ['/usr/libexec/virtiofsd', '/usr/lib/virtiofsd'];
const LOCK_WAIT_MS = 10 * 60_000;

export interface VirtiofsdOptions {
  /** Default ${XDG_CACHE_HOME:-~/.cache}/kata-node-agent/virtiofsd. */
  cacheDir?: string;
  /** Stage again even if cached (and ignore the host's virtiofsd). */
  force?: boolean;
  /** Use a virtiofsd installed on the host when there is one (default true). */
  preferHost?: boolean;
  log?: (message: string) => void;
}

export interface VirtiofsdInstall {
  /** argv prefix that starts virtiofsd; append its own options. */
  command: string[];
  /** The virtiofsd executable itself. */
  binary: string;
  /** As `virtiofsd --version` prints it, e.g. 1.13.2. */
  version: string;
  source: 'host' | 'staged';
  /** Staged only: cache key, directory, and whether it was there already. */
  key?: string;
  dir?: string;
  fromCache?: boolean;
  /** Staged only: the Debian packages the tree was made of. */
  packages?: Array<{ name: string; version: string }>;
}

interface Manifest {
  key: string;
  suite: string;
  archive: string;
  arch: string;
  version: string;
  packages: Array<{ name: string; version: string }>;
}

/** Debian architecture -> multiarch triplet and dynamic loader name. */
const ARCHES: Record<string, { triplet: string; loader: string }> = {
  amd64: { triplet: 'x86_64-linux-gnu', loader: 'ld-linux-x86-64.so.2' },
  arm64: { triplet: 'aarch64-linux-gnu', loader: 'ld-linux-aarch64.so.1' },
};

export function virtiofsdCacheKey(arch: string): string {
  const recipe = { suite: VIRTIOFSD_SUITE, packages: [...VIRTIOFSD_PACKAGES], arch, layout: LAYOUT_VERSION };
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

/** The argv that runs the staged virtiofsd under `root` through the tree's own loader and libraries. */
export function stagedCommand(root: string, arch: string): string[] {
  const a = ARCHES[arch];
  if (!a) throw new Error(`virtiofsd: no staged-tree recipe for architecture ${arch} (have ${Object.keys(ARCHES).join(', ')})`);
  const libDir = path.join(root, 'usr/lib', a.triplet);
  return [path.join(libDir, a.loader), '--library-path', libDir, path.join(root, 'usr/libexec/virtiofsd')];
}

/** "virtiofsd 1.13.2" (the Rust daemon); QEMU's old C one says "virtiofsd version 7.2.x" and takes other flags. */
export function parseVirtiofsdVersion(output: string): string | undefined {
  return /^virtiofsd v?(\d+\.\d+\S*)\s*$/m.exec(output)?.[1];
}

async function probeVersion(command: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await runTool(command[0]!, [...command.slice(1), '--version']);
    return parseVirtiofsdVersion(stdout);
  } catch {
    return undefined;
  }
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(() => true, () => false);
}

/** A Rust virtiofsd on the host: Debian's place for it, then $PATH. */
export async function findHostVirtiofsd(log: (m: string) => void = () => {}): Promise<VirtiofsdInstall | undefined> {
  const onPath = (process.env.PATH ?? '').split(':').filter(Boolean).map((d) => path.join(d, 'virtiofsd'));
  for (const binary of [...HOST_CANDIDATES, ...onPath]) {
    if (!(await isExecutable(binary))) continue;
    const version = await probeVersion([binary]);
    if (version) return { command: [binary], binary, version, source: 'host' };
    log(`${binary} is not the Rust virtiofsd (no "virtiofsd X.Y" from --version): not used`);
  }
  return undefined;
}

async function debianArch(): Promise<string> {
  return (await runTool('dpkg', ['--print-architecture'])).stdout.trim();
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'virtiofsd.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

async function cachedInstall(dir: string, key: string, arch: string): Promise<VirtiofsdInstall | undefined> {
  const manifest = await readManifest(dir);
  if (manifest?.key !== key) return undefined;
  const command = stagedCommand(path.join(dir, 'root'), arch);
  if (!(await isExecutable(command[0]!)) || !(await isExecutable(command[3]!))) return undefined;
  return { command, binary: command[3]!, version: manifest.version, source: 'staged', key, dir, fromCache: true, packages: manifest.packages };
}

/**
 * apt options that use only our own sources list, lists and cache: the system's apt state and
 * configuration of sources are neither read nor changed.
 */
function privateAptOptions(aptDir: string): string[] {
  return [
    '-o', `Dir::Etc::SourceList=${path.join(aptDir, 'sources.list')}`,
    '-o', 'Dir::Etc::SourceParts=/dev/null',
    '-o', `Dir::State::Lists=${path.join(aptDir, 'lists')}`,
    '-o', `Dir::Cache=${path.join(aptDir, 'cache')}`,
    // Our scratch dirs are 0700 root: apt's _apt sandbox user could not write into them.
    '-o', 'APT::Sandbox::User=root',
  ];
}

async function stage(dir: string, key: string, arch: string, log: (m: string) => void): Promise<VirtiofsdInstall> {
  const archive = await systemDebianArchiveUri();
  await mkdir(path.dirname(dir), { recursive: true });
  const scratch = await mkdtemp(path.join(path.dirname(dir), `.stage-${key}-`));
  try {
    const aptDir = path.join(scratch, 'apt');
    const debDir = path.join(scratch, 'debs');
    const root = path.join(scratch, 'root');
    for (const d of [path.join(aptDir, 'lists/partial'), path.join(aptDir, 'cache/archives/partial'), debDir, root]) await mkdir(d, { recursive: true });
    await writeFile(path.join(aptDir, 'sources.list'), `deb [signed-by=${KEYRING}] ${archive} ${VIRTIOFSD_SUITE} main\n`);
    const apt = privateAptOptions(aptDir);
    log(`apt-get update (${VIRTIOFSD_SUITE} main from ${archive}, private lists)`);
    await runTool('apt-get', ['-q', ...apt, 'update']);
    log(`apt-get download ${VIRTIOFSD_PACKAGES.join(' ')}`);
    await runTool('apt-get', ['-q', ...apt, 'download', ...VIRTIOFSD_PACKAGES], { cwd: debDir });
    const packages: Manifest['packages'] = [];
    for (const deb of (await readdir(debDir)).filter((f) => f.endsWith('.deb')).sort()) {
      const file = path.join(debDir, deb);
      const control = (await runTool('dpkg-deb', ['-f', file, 'Package', 'Version'])).stdout;
      const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(control)?.[1] ?? '';
      packages.push({ name: field('Package'), version: field('Version') });
      await runTool('dpkg-deb', ['-x', file, root]);
    }
    const missing = VIRTIOFSD_PACKAGES.filter((p) => !packages.some((d) => d.name === p));
    if (missing.length > 0) throw new Error(`apt-get download gave no .deb for ${missing.join(', ')}`);
    const command = stagedCommand(root, arch);
    const version = await probeVersion(command);
    if (!version) {
      const { stderr, stdout } = await runTool(command[0]!, [...command.slice(1), '--version']).catch((e: Error) => ({ stdout: '', stderr: e.message }));
      throw new Error(`the staged virtiofsd does not run: ${stderr.trim() || stdout.trim() || 'no version printed'}`);
    }
    await rm(aptDir, { recursive: true, force: true });
    await rm(debDir, { recursive: true, force: true });
    const manifest: Manifest = { key, suite: VIRTIOFSD_SUITE, archive, arch, version, packages };
    await writeFile(path.join(scratch, 'virtiofsd.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await chmod(scratch, 0o755); // mkdtemp made it 0700; the tree is for anyone to run
    await rm(dir, { recursive: true, force: true });
    await rename(scratch, dir);
    log(`staged virtiofsd ${version} in ${dir}`);
    const staged = stagedCommand(path.join(dir, 'root'), arch);
    return { command: staged, binary: staged[3]!, version, source: 'staged', key, dir, fromCache: false, packages };
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw new Error(`virtiofsd: stage ${VIRTIOFSD_SUITE}'s virtiofsd: ${(err as Error).message}`);
  }
}

/** The host's virtiofsd if it has one, else the staged one (staged now if not cached). */
export async function ensureVirtiofsd(opts: VirtiofsdOptions = {}): Promise<VirtiofsdInstall> {
  const log = opts.log ?? (() => {});
  if (!opts.force && opts.preferHost !== false) {
    const host = await findHostVirtiofsd(log);
    if (host) return host;
  }
  const arch = await debianArch();
  const key = virtiofsdCacheKey(arch);
  const cacheDir = opts.cacheDir ?? path.join(cacheRoot(), 'virtiofsd');
  const dir = path.join(cacheDir, key);
  if (!opts.force) {
    const cached = await cachedInstall(dir, key, arch);
    if (cached) return cached;
  }
  await mkdir(cacheDir, { recursive: true });
  return withLock(
    path.join(cacheDir, `${key}.lock`),
    LOCK_WAIT_MS,
    () => log(`waiting for another process staging virtiofsd in ${dir}`),
    async () => {
      // Whoever held the lock may have staged it meanwhile.
      const cached = opts.force ? undefined : await cachedInstall(dir, key, arch);
      return cached ?? stage(dir, key, arch, log);
    },
  );
}

let memo: Promise<string[]> | undefined;

/**
 * The argv prefix that starts virtiofsd here (the host's, else the staged one), provisioned on
 * first use; once per process.
 */
export function virtiofsdCommand(): Promise<string[]> {
  memo ??= ensureVirtiofsd({ log: (m) => process.stderr.write(`[virtiofsd] ${m}\n`) }).then(
    (v) => v.command,
    (err: unknown) => {
      memo = undefined;
      throw err;
    },
  );
  return memo;
}
