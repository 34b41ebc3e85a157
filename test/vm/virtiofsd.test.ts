// virtiofsd for virtio-fs boots: where its Debian packages come from (the system's own apt
// sources), which daemon counts as the Rust virtiofsd, and the real daemon's life: it listens
// once started, stop() ends every process of it, a spawnPrefix puts it in another process's
// mount namespace, and it dies with the process that started it even then.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardedCommand } from '../../image-builder/src/qemu/guarded-command';
import { startVirtiofsd } from '../../image-builder/src/qemu/virtiofsd-daemon';
import { debianArchiveUri, parseDeb822Sources, parseOneLineSources, parseVirtiofsdVersion, stagedCommand } from '../../image-builder/src/virtiofsd';
import { bundleForNode } from '../helpers/bundle-for-node';
import { type MountNamespaceHolder, processGone, processesMentioning, provisionVirtiofsd, startMountNamespaceHolder } from './virtiofs-guest';
import { skipUnlessAvailable } from '../helpers/requirement';

// This machine's own deb822 file, comments and all.
const DEBIAN_SOURCES = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.example.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

describe('where virtiofsd comes from', () => {
  it('takes the Debian archive URI from the system apt sources: the release suite, not the security archive or third-party repos', () => {
    const entries = [
      ...parseDeb822Sources('Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\nSigned-By: /usr/share/keyrings/nodesource.gpg\n', 'nodesource.sources'),
      ...parseDeb822Sources(DEBIAN_SOURCES, 'debian.sources'),
    ];
    expect(entries.map((e) => e.uris[0])).toEqual(['https://deb.nodesource.com/node_20.x', 'http://deb.example.org/debian', 'http://deb.example.org/debian-security']);
    expect(debianArchiveUri(entries, 'bookworm')).toBe('http://deb.example.org/debian');
    expect(debianArchiveUri(parseDeb822Sources(DEBIAN_SOURCES.replace('Types: deb\n#', 'Types: deb\nEnabled: no\n#'), 'f'), 'bookworm')).toBeUndefined();
    const oneLine = parseOneLineSources('# old style\ndeb http://mirror.example/debian-security bookworm-security main\ndeb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian/ bookworm main contrib\n', 'sources.list');
    expect(oneLine[1]).toMatchObject({ suites: ['bookworm'], components: ['main', 'contrib'], signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg' });
    expect(debianArchiveUri(oneLine, 'bookworm')).toBe('http://mirror.example/debian');
  });

  it('counts only the Rust virtiofsd (QEMU 7.2\'s old C one takes other flags) and runs a staged one through its own loader', () => {
    expect(parseVirtiofsdVersion('virtiofsd 1.13.2\n')).toBe('1.13.2');
    expect(parseVirtiofsdVersion('virtiofsd version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022\n')).toBeUndefined();
    expect(stagedCommand('/c/v', 'amd64')).toEqual([
      '/c/v/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', '--library-path', '/c/v/usr/lib/x86_64-linux-gnu', '/c/v/usr/libexec/virtiofsd',
    ]);
    expect(() => stagedCommand('/c/v', 'mips64el')).toThrow(/no staged-tree recipe for architecture mips64el/);
  });
});

const install = await provisionVirtiofsd();
const missing = typeof install === 'string' ? install : undefined;

describe.skipIf(skipUnlessAvailable(missing))('the virtiofsd daemon', () => {
  let dir: string;
  let command: string[];
  beforeAll(async () => {
    if (missing) throw new Error(`${missing} (CI=true: must run, not skip)`);
    command = (install as Exclude<typeof install, string>).command;
    dir = await mkdtemp(join(tmpdir(), 'virtiofsd-test-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is virtiofsd 1.x', () => {
    expect((install as Exclude<typeof install, string>).version).toMatch(/^1\.\d+/);
  });

  it('listens on its socket once started, and stop() ends all of its processes (the namespace sandbox forks one)', async () => {
    const sharedDir = join(dir, 'plain');
    mkdirSync(sharedDir);
    const socketPath = join(dir, 'plain.sock');
    const daemon = await startVirtiofsd({ virtiofsd: command, share: { tag: 'kataShared', sharedDir }, socketPath });
    expect(processesMentioning(socketPath)).toHaveLength(2);
    // (A frontend that connects and leaves makes virtiofsd end by itself, as after QEMU.)
    await new Promise<void>((resolve, reject) => {
      const s = connect(socketPath, () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
    await daemon.stop();
    expect(processesMentioning(socketPath)).toEqual([]);
  });

  describe('with a spawnPrefix into another mount namespace', () => {
    let holder: MountNamespaceHolder;
    let sharedDir: string;
    let prefix: string[];
    beforeAll(async () => {
      sharedDir = join(dir, 'ns-only');
      mkdirSync(sharedDir);
      // A tmpfs on sharedDir that only the holder's namespace sees, as a Kata shim's bind mounts
      // of container rootfs are seen only in the shim's namespace.
      holder = await startMountNamespaceHolder('mount -t tmpfs ns-only "$1" && echo only-there > "$1/marker"', [sharedDir]);
      prefix = holder.prefix;
    });
    afterAll(() => {
      holder?.kill();
    });

    it('runs virtiofsd in that namespace', async () => {
      const socketPath = join(dir, 'ns.sock');
      const daemon = await startVirtiofsd({ virtiofsd: command, share: { tag: 'kataShared', sharedDir }, socketPath, spawnPrefix: prefix });
      try {
        // Its sandbox made a mount namespace of its own from the holder's, with the shared
        // directory as its root: that root is the holder's tmpfs, where we see an empty directory.
        expect(readFileSync(`/proc/${daemon.pid}/root/marker`, 'utf8')).toBe('only-there\n');
        expect(readdirSync(sharedDir)).toEqual([]);
        const pdeathsig = ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'];
        expect(daemon.command.slice(0, 11)).toEqual([...pdeathsig, ...prefix, ...pdeathsig]);
      } finally {
        await daemon.stop();
      }
      expect(processesMentioning(socketPath)).toEqual([]);
    });

    it('dies with the process that started it (SIGKILLed), prefix and all', async () => {
      const starter = await bundleForNode(join(__dirname, 'virtiofsd-starter.ts'), join(dir, 'virtiofsd-starter.mjs'));
      const socketPath = join(dir, 'orphan.sock');
      // The starter itself dies with this test worker, whatever happens below.
      const [node, ...args] = guardedCommand([process.execPath, starter, JSON.stringify({ virtiofsd: command, share: { tag: 'kataShared', sharedDir }, socketPath, spawnPrefix: prefix })]);
      const child = spawn(node!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const first = await new Promise<string>((resolve, reject) => {
          createInterface({ input: child.stdout! }).once('line', resolve);
          child.once('exit', (code) => reject(new Error(`starter exited ${code}`)));
        });
        const { pid } = JSON.parse(first) as { pid: number };
        const all = processesMentioning(socketPath).filter((p) => p !== child.pid); // its argv names the socket too
        expect(all).toContain(pid);
        expect(all).toHaveLength(2); // and its namespace sandbox's process
        child.kill('SIGKILL');
        // The kernel's parent-death signal does it; without it this waits until the test times out.
        await Promise.all(all.map(processGone));
        expect(processesMentioning(socketPath).filter((p) => p !== child.pid)).toEqual([]);
      } finally {
        child.kill('SIGKILL');
      }
    }, 30_000);
  });
});
