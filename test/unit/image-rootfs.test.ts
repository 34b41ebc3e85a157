import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRootfs, type RootfsResult } from '../../image-builder/src/rootfs/build-rootfs';
import type { RootfsDeclaration } from '../../image-builder/src/rootfs/declaration';
import { makeTempDir, removeDir, run } from './image-helpers';
import { notRootReason, skipUnlessAvailable } from '../helpers/requirement';

// These tests fetch real Debian packages (cached under ~/.cache/kata-node-agent like real builds).
const guest = JSON.parse(await readFile(path.resolve('rootfs/guest.json'), 'utf8')) as RootfsDeclaration;
const pinned = (name: string) => guest.packages.find((p) => p.name === name)!;
const CRUN_PACKAGES = ['crun', 'busybox-static', 'libc6', 'libsystemd0', 'libseccomp2', 'libcap2', 'libyajl2', 'libgcrypt20',
  'libgpg-error0', 'liblz4-1', 'liblzma5', 'libzstd1'];

describe('rootfs assembly from Debian packages', () => {
  let work: string;

  /** A declaration beside small /etc and init files in `work`, with overrides per test. */
  async function declare(name: string, patch: Partial<RootfsDeclaration> = {}): Promise<string> {
    const dir = path.join(work, name);
    await mkdir(path.join(dir, 'etc'), { recursive: true });
    await writeFile(path.join(dir, 'etc/hosts'), '127.0.0.1 localhost\n');
    await writeFile(path.join(dir, 'init.sh'), '#!/bin/busybox sh\necho init\n');
    const declaration: RootfsDeclaration = {
      packages: CRUN_PACKAGES.map((n) => ({ ...pinned(n), binaries: n === 'crun' ? ['/usr/bin/crun'] : n === 'busybox-static' ? ['/bin/busybox'] : undefined })),
      agent: { guestDir: '/usr/lib/kata-agent', files: [] },
      directories: [{ path: '/proc', mode: '0555' }, { path: '/tmp', mode: '1777' }],
      files: [{ path: '/etc/hosts', from: 'etc/hosts', mode: '0644' }],
      links: [{ path: '/bin/sh', target: 'busybox' }],
      inits: { agent: 'init.sh', 'test-shell': 'init.sh' },
      ...patch,
    };
    const file = path.join(dir, 'guest.json');
    await writeFile(file, JSON.stringify(declaration));
    return file;
  }

  async function expectFailure(declarationPath: string, message: RegExp, init: 'agent' | 'test-shell' = 'agent'): Promise<void> {
    const out = path.join(path.dirname(declarationPath), 'out', 'rootfs');
    await expect(buildRootfs({ declarationPath, outputDir: out, init })).rejects.toThrow(message);
    // Nothing half-built is left: neither the tree nor its staging directory.
    expect(existsSync(out)).toBe(false);
    const left = existsSync(path.dirname(out)) ? await readdir(path.dirname(out)) : [];
    expect(left).toEqual([]);
  }

  beforeAll(async () => { work = await makeTempDir('rootfs'); });
  afterAll(() => removeDir(work));

  describe('a crun + busybox tree', () => {
    let tree: string;
    let result: RootfsResult;
    beforeAll(async () => {
      tree = path.join(work, 'crun-tree');
      result = await buildRootfs({ declarationPath: await declare('crun'), outputDir: tree, init: 'test-shell', sourceDateEpoch: 5 });
    }, 300_000);

    it('holds every DT_NEEDED library of every ELF file it ships, as readelf sees them', async () => {
      const elfFiles = run('find', [tree, '-type', 'f', '(', '-name', '*.so*', '-o', '-path', '*/bin/*', ')']).stdout.trim().split('\n');
      expect(elfFiles.length).toBeGreaterThan(10);
      const libDirs = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu'];
      for (const file of elfFiles) {
        const dynamic = run('readelf', ['-d', file]).stdout;
        for (const [, soname] of dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)) {
          expect(libDirs.some((d) => existsSync(path.join(tree, d, soname!))), `${soname} needed by ${file}`).toBe(true);
        }
      }
      expect(existsSync(path.join(tree, 'lib64/ld-linux-x86-64.so.2'))).toBe(true);
      expect(result.closures.find((c) => c.binary.startsWith('/usr/bin/crun'))!.libraries).toEqual(expect.arrayContaining([
        'libseccomp.so.2', 'libyajl.so.2', 'libsystemd.so.0', 'libgcrypt.so.20', 'libc.so.6', 'ld-linux-x86-64.so.2',
      ]));
    });

    it('copies only what the closure needs (no headers, docs or unneeded libraries)', async () => {
      expect(existsSync(path.join(tree, 'usr/share'))).toBe(false);
      expect(existsSync(path.join(tree, 'usr/include'))).toBe(false);
      // libc6 ships libresolv, libanl... which nothing here needs.
      expect(existsSync(path.join(tree, 'lib/x86_64-linux-gnu/libanl.so.1'))).toBe(false);
    });

    it.skipIf(skipUnlessAvailable(notRootReason()))('runs crun and busybox inside the tree (chroot): the closure is complete', () => {
      // The guest's own dynamic loader resolves crun's libraries (no ld.so.cache in the tree, as in the guest).
      const crun = run('chroot', [tree, '/lib64/ld-linux-x86-64.so.2', '--list', '/usr/bin/crun']);
      expect(crun.status).toBe(0);
      expect(crun.stdout).not.toMatch(/not found/);
      expect(crun.stdout).toMatch(/libyajl\.so\.2 => \/usr\/lib\/x86_64-linux-gnu\/libyajl\.so\.2/);
      expect(run('chroot', [tree, '/bin/sh', '-c', 'echo $((6*7))']).stdout.trim()).toBe('42');
    });

    it('has the declared skeleton, /etc files, links and init', async () => {
      expect(run('stat', ['-c', '%a', path.join(tree, 'tmp')]).stdout.trim()).toBe('1777');
      expect(run('readlink', [path.join(tree, 'bin/sh')]).stdout.trim()).toBe('busybox');
      expect(run('readlink', [path.join(tree, 'init')]).stdout.trim()).toBe('sbin/init');
      expect(run('stat', ['-c', '%a %Y', path.join(tree, 'sbin/init')]).stdout.trim()).toBe('755 5');
      expect(await readFile(path.join(tree, 'etc/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n');
    });
  });

  it.skipIf(skipUnlessAvailable(notRootReason()))('the real guest (rootfs/guest.json) runs its stripped Node from its own libraries (chroot)', async () => {
    const tree = path.join(work, 'guest-tree');
    const result = await buildRootfs({ declarationPath: 'rootfs/guest.json', outputDir: tree, init: 'test-shell' });
    const node = run('chroot', [tree, '/usr/bin/node', '-e', 'console.log(process.version, typeof require("node:zlib").zstdCompress)']);
    expect(node.stdout).toMatch(/^v20\./);
    expect(run('file', [path.join(tree, 'usr/bin/node')]).stdout).toMatch(/stripped/);
    expect(run('file', [path.join(tree, 'usr/bin/node')]).stdout).not.toMatch(/not stripped/);
    expect(result.closures.find((c) => c.binary.startsWith('/usr/bin/node'))!.libraries).toEqual([
      'ld-linux-x86-64.so.2', 'libc.so.6', 'libdl.so.2', 'libgcc_s.so.1', 'libm.so.6', 'libpthread.so.0', 'libstdc++.so.6',
    ]);
    // node-pty resolves ./build/Release/pty.node from the bundle's directory.
    if (!result.skipped.includes('usr/lib/kata-agent/build/Release/pty.node')) {
      expect(existsSync(path.join(tree, 'usr/lib/kata-agent/build/Release/pty.node'))).toBe(true);
    }
  }, 300_000);

  it('will not replace a directory that is not a rootfs tree it built', async () => {
    const precious = path.join(work, 'precious');
    await mkdir(precious);
    await writeFile(path.join(precious, 'data'), 'keep me');
    await expect(buildRootfs({ declarationPath: await declare('replace'), outputDir: precious, init: 'test-shell' }))
      .rejects.toThrow(/replace .*precious: refusing, it is not empty and not a rootfs tree built by image-builder/);
    expect(await readFile(path.join(precious, 'data'), 'utf8')).toBe('keep me');
    expect((await readdir(work)).filter((n) => n.startsWith('precious.partial'))).toEqual([]);
  }, 120_000);

  it('refuses an agent snapshot without a node to build it, or without the node in the tree', async () => {
    const incomplete = await declare('snapshot-fields', {
      agent: { guestDir: '/usr/lib/kata-agent', files: [], snapshot: { from: 'init.sh', to: 'agent.blob' } as never },
    });
    await expectFailure(incomplete, /"agent.snapshot" needs "from", "to" and "node"/);
    const noNode = await declare('snapshot-no-node', {
      agent: { guestDir: '/usr/lib/kata-agent', files: [], snapshot: { from: 'init.sh', to: 'agent.blob', node: '/usr/bin/node' } },
    });
    await expectFailure(noNode, /build agent snapshot with .*\/usr\/bin\/node: .*ENOENT/);
  }, 120_000);

  it('refuses an init program that is not built, before staging anything', async () => {
    const file = await declare('init-not-built', { inits: { agent: '../dist/native/kata-agent-init', 'test-shell': 'init.sh' } });
    await expectFailure(file, /rootfs init agent: .*dist\/native\/kata-agent-init is missing \(the agent's init is built with the addon/);
  });

  it('refuses a package that does not exist, naming it', async () => {
    const file = await declare('no-package', { packages: [{ name: 'kata-no-such-package', version: '1.0-1' }] });
    await expectFailure(file, /Debian package kata-no-such-package: not found in the configured apt sources/);
  }, 120_000);

  it('refuses a declared binary the package does not ship', async () => {
    const file = await declare('missing-binary', {
      packages: [{ ...pinned('busybox-static'), binaries: ['/usr/bin/not-in-busybox'] }],
    });
    await expectFailure(file, /rootfs binary \/usr\/bin\/not-in-busybox: missing from Debian package busybox-static/);
  }, 120_000);

  it('refuses a binary whose library no declared package provides, and says which package would', async () => {
    const file = await declare('missing-library', {
      packages: CRUN_PACKAGES.filter((n) => n !== 'libyajl2').map((n) => ({ ...pinned(n), binaries: n === 'crun' ? ['/usr/bin/crun'] : undefined })),
    });
    await expectFailure(file, /resolve libyajl\.so\.2 needed by \/usr\/bin\/crun \(crun\): not found in the staged packages.*libyajl2/);
  }, 120_000);

  it('refuses a missing input file and an input that is not a readable regular file', async () => {
    const missing = await declare('missing-file', { files: [{ path: '/etc/x', from: 'etc/nope', mode: '0644' }] });
    await expectFailure(missing, /copy .*etc\/nope to \/etc\/x: missing \(ENOENT\)/);
    const directory = await declare('dir-as-file', { files: [{ path: '/etc/x', from: 'etc', mode: '0644' }] });
    await expectFailure(directory, /copy .*etc to \/etc\/x: not a regular file/);
    const agent = await declare('no-agent', { agent: { guestDir: '/usr/lib/kata-agent', files: [{ from: 'agent.js', to: 'agent.js' }] } });
    await expectFailure(agent, /copy .*agent\.js to usr\/lib\/kata-agent\/agent\.js: missing/);
  }, 120_000);

  it('refuses paths that escape the rootfs, directly or through a symlink', async () => {
    const dotdot = await declare('escape', { files: [{ path: '/../../etc/evil', from: 'etc/hosts', mode: '0644' }] });
    await expectFailure(dotdot, /path escapes the rootfs/);
    const outside = path.join(work, 'outside');
    await mkdir(outside);
    const viaLink = await declare('escape-link', {
      links: [{ path: '/bin/sh', target: 'busybox' }, { path: '/hostdir', target: outside }],
      files: [{ path: '/hostdir/evil', from: 'etc/hosts', mode: '0644' }],
    });
    await expectFailure(viaLink, /hostdir is not a directory \(a symlink\?\)/);
    expect(await readdir(outside)).toEqual([]);
  }, 120_000);
});
