// Storage drivers mounting for real, as root, each scenario in a child process inside its own
// private mount namespace (`unshare -m --propagation private`), so the host's mounts and this
// vitest worker's namespace are never touched. The scenarios live in storage-ns-runner.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../agent/src/ttrpc/status';
import { prepareScenarios, type ScenarioRunner } from '../helpers/ns-scenarios';
import { notRootReason, requireOrSkip, skipUnlessAvailable } from '../helpers/requirement';

interface MountSeen {
  mountPoint: string;
  fstype: string;
  source: string;
  options: string[];
  superOptions: string[];
}

let scenarios: ScenarioRunner | undefined;
const scenario = (name: string, ...args: string[]) => scenarios!.run(name, ...args);

describe.skipIf(skipUnlessAvailable(notRootReason()))('storage drivers, real mounts in a private mount namespace', () => {
  beforeAll(async () => {
    scenarios = await prepareScenarios(path.join(__dirname, 'storage-ns-runner.ts'), ['-m', '--propagation', 'private'], 'storage-it-');
  });

  afterAll(() => scenarios?.dispose());

  it('mounts the sandbox /dev/shm tmpfs as Kata sends it, and unmounts it on release', async () => {
    const r = await scenario('ephemeral-shm');
    const mounted = r.mounted as MountSeen;
    expect(mounted.fstype).toBe('tmpfs');
    expect(mounted.source).toBe('shm');
    expect(mounted.options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    expect(mounted.superOptions).toContain('size=65536k'); // (tmpfs lists mode only when not 1777)
    expect(r.mode).toBe(0o1777);
    expect(r.afterRelease).toBeUndefined();
    expect(r.dirLeft).toBe(false);
  });

  it('keeps a shared mount while any owner holds it (per /proc/self/mountinfo)', async () => {
    const r = await scenario('refcount');
    expect(r.bothHeld.mounted).toBe(true);
    expect(r.bothHeld.snapshot[0].owners).toEqual(['c1', 'sandbox']);
    expect(r.oneHeld).toMatchObject({ mounted: true, file: 'data' });
    expect(r.oneHeld.snapshot[0].owners).toEqual(['c1']);
    expect(r.noneHeld).toEqual({ mounted: false, snapshot: [] });
  });

  it('binds watchable-bind sources (directory read-only, single file) and sees host updates', async () => {
    const r = await scenario('watchable-bind');
    expect(r.before).toBe('value-1');
    expect(r.after).toBe('value-2');
    expect(r.writeThroughRo).toBe('EROFS');
    expect(r.dirMount.options).toContain('ro');
    expect(r.file).toBe('127.0.0.1 localhost\n');
    expect(r.fileMount).toBe(true);
    expect(r.afterRelease).toEqual({ dir: false, file: false, fileTargetLeft: false, c1Left: false });
    expect(r.missing.code).toBe(Code.NOT_FOUND);
    expect(r.missing.message).toMatch(/bind .*nope.*: bind source: ENOENT/);
    expect(r.sourceIntact).toBe('value-2');
  });

  it('mounts overlayfs from options, creating upper and work dirs', async () => {
    const r = await scenario('overlayfs');
    expect(r.mounted.fstype).toBe('overlay');
    expect(r.a).toBe('from lower');
    expect(r.bInUpper).toBe(true);
    expect(r.bInLower).toBe(false);
    expect(r.afterRelease).toBe(false);
    expect(r.noLower.code).toBe(Code.INVALID_ARGUMENT);
    expect(r.noLower.message).toContain('no lowerdir');
  });

  it('rolls back the first storage when the second fails, leaving nothing mounted or created', async () => {
    const r = await scenario('rollback');
    expect([Code.NOT_FOUND, Code.INVALID_ARGUMENT]).toContain(r.err.code);
    expect(r.err.message).toMatch(/^mount virtio-fs kataShared at \S+\/shared\/containers: E[A-Z]+ \(/);
    expect(r).toMatchObject({ firstMounted: false, firstLeft: false, newLeft: false, sharedLeft: false, snapshot: [] });
  });

  it('fails virtio-fs and 9p cleanly on a host without those devices', async () => {
    const r = await scenario('shared-fs-on-host');
    // Which errno depends on the kernel (no such fs type, no such tag/channel): each one is
    // named, with the operation and the mount point.
    expect(r.virtioFs.message).toMatch(/^mount virtio-fs kataShared at \S+\/vfs: E[A-Z]+ /);
    expect(r.ninep.message).toMatch(/^mount 9p kataShared at \S+\/9p: E[A-Z]+ /);
    for (const e of [r.virtioFs, r.ninep]) expect([Code.NOT_FOUND, Code.INVALID_ARGUMENT]).toContain(e.code);
    expect(r.left).toBe(false);
  });

  it('substitutes a bind of a host directory for virtio-fs kataShared (bindDirectoryAsSharedFs)', async () => {
    const r = await scenario('shared-fs-stand-in');
    expect(r.added[0]).toMatch(/\/run\/kata-containers\/shared\/containers$/);
    expect(r.seen).toBe('#!fake');
    expect(r.afterRelease).toBe(false);
    expect(r.hostIntact).toBe(true);
  });

  it('detaches a mount a process still sits in when its last owner releases it', async () => {
    expect(await scenario('busy-release')).toEqual({ afterRelease: false });
  });

  it('gives an ephemeral volume the fsgid group with setgid, without passing fsgid to tmpfs', async () => {
    const r = await scenario('ephemeral-fsgid');
    expect(r.gid).toBe(3000);
    expect(r.setgid).toBe(true);
    expect(r.mounted.superOptions).toContain('size=1024k');
    expect(r.mounted.superOptions.join(',')).not.toContain('fsgid');
  });

  describe('block device', () => {
    let loopDevice: string | undefined;
    let loopError = '';
    beforeAll(() => {
      const image = path.join(scenarios!.work, 'disk.ext4');
      const content = path.join(scenarios!.work, 'disk-content');
      mkdirSync(content);
      writeFileSync(path.join(content, 'hello'), 'from ext4');
      try {
        execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, image, '8M'], { stdio: 'pipe' });
        loopDevice = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8', stdio: 'pipe' }).trim();
      } catch (err) {
        loopError = String(err);
      }
    });
    afterAll(() => {
      if (loopDevice) execFileSync('losetup', ['-d', loopDevice]);
    });

    it('mounts a blk storage given as a /dev path (a loop device over an ext4 image), read-only', async (ctx) => {
      requireOrSkip(ctx, loopDevice ? undefined : `no loop device: ${loopError}`);
      const r = await scenario('blk-dev-path', loopDevice!);
      expect(r.mounted.fstype).toBe('ext4');
      expect(r.mounted.source).toBe(loopDevice);
      expect(r.content).toBe('from ext4');
      expect(r.write).toBe('EROFS');
      expect(r.afterRelease).toBe(false);
      expect(r.noFstype.code).toBe(Code.INVALID_ARGUMENT);
      expect(r.noFstype.message).toContain('no fstype');
    });

    it('mounts a blk storage by PCI path, and cleans up after a wrong fstype', async (ctx) => {
      requireOrSkip(ctx, loopDevice ? undefined : `no loop device: ${loopError}`);
      const r = await scenario('blk-pci-path', loopDevice!);
      expect(r.added[0]).toMatch(/\/shared\/containers\/3f6c2a9d$/);
      expect(r.content).toBe('from ext4');
      expect(r.write).toBe('ok');
      expect(r.afterRelease).toBe(false);
      expect(r.wrongFs.message).toMatch(/^mount virtio-blk \S+\/dev\/vda at \S+\/wrong\/fs: E[A-Z]+ /);
      expect(r.wrongLeft).toBe(false);
    });
  });
});
