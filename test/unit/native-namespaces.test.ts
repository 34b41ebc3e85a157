// mount/umount, sethostname, setns and unshare do their real job, in child processes placed in
// fresh namespaces by unshare(1), so neither this test worker nor the host is changed. The child
// is our TS face bundled by esbuild, with the addon beside it as in dist/ (native/kata_native.node).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleForNode } from '../helpers/ns-scenarios';

const nativeFace = fileURLToPath(new URL('../../agent/src/native/index.ts', import.meta.url));
const addonPath = fileURLToPath(new URL('../../agent/native/build/Release/kata_native.node', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'native-namespaces-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bundles `source` (which imports the face as NATIVE) like scripts/build.mjs does; returns the bundle path. */
async function bundle(name: string, source: string, withAddon = true): Promise<string> {
  const outDir = join(dir, name);
  mkdirSync(outDir);
  const entry = join(outDir, 'entry.ts');
  writeFileSync(entry, source.replaceAll('NATIVE', JSON.stringify(nativeFace)));
  const outfile = await bundleForNode(entry, join(outDir, 'child.mjs'));
  if (withAddon) {
    mkdirSync(join(outDir, 'native'));
    symlinkSync(addonPath, join(outDir, 'native', 'kata_native.node'));
  }
  return outfile;
}

/** Runs the bundle (optionally under unshare(1) with `unshareArgs`) and parses its JSON output. */
function runChild<T>(bundlePath: string, unshareArgs: string[] | null, args: string[] = []): T {
  const env = { ...process.env };
  delete env.KATA_NATIVE_ADDON;
  const cmd = unshareArgs ? ['unshare', [...unshareArgs, process.execPath, bundlePath, ...args]] : [process.execPath, [bundlePath, ...args]];
  const out = execFileSync(cmd[0] as string, cmd[1] as string[], { env, encoding: 'utf8' });
  return JSON.parse(out) as T;
}

function mountLine(mountinfo: string, target: string): string | undefined {
  return mountinfo.split('\n').find((line) => line.split(' ')[4] === target);
}

describe('mount and umount', () => {
  it('mounts a tmpfs with flags and data off the JS thread, and unmounts it, in a private mount namespace', async () => {
    const target = join(dir, 'mnt');
    mkdirSync(target);
    const child = await bundle(
      'mount',
      `import { mount, mountSync, umount, MS_NOSUID, MS_NODEV, MS_NOEXEC } from NATIVE;
       import { readFileSync, writeFileSync, existsSync } from 'node:fs';
       const target = process.argv[2];
       const line = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\\n').find((l) => l.split(' ')[4] === target);
       const shape = (e) => ({ message: e.message, code: e.code, syscall: e.syscall, errno: e.errno });
       const errorOf = async (p) => { try { await p; return null; } catch (e) { return shape(e); } };
       const pending = mount('kataTest', target, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'size=1m,mode=0711');
       const isPromise = pending instanceof Promise;
       await pending;
       const mounted = line();
       writeFileSync(target + '/inside', 'x');
       const notAMountPoint = await errorOf(umount(target + '/inside'));
       const badFsType = await errorOf(mount('none', target, 'no-such-fs', 0, null));
       const noTarget = await errorOf(mount('kataTest', target + '/no/such/dir', 'tmpfs', 0, null));
       let syncNoTarget = null;
       try { mountSync('kataTest', target + '/no/such/dir', 'tmpfs', 0, null); } catch (e) { syncNoTarget = shape(e); }
       await umount(target);
       console.log(JSON.stringify({ isPromise, mounted, unmounted: line(), fileAfter: existsSync(target + '/inside'), notAMountPoint, badFsType, noTarget, syncNoTarget }));`,
    );
    const r = runChild<{
      isPromise: boolean;
      noTarget: NodeJS.ErrnoException;
      syncNoTarget: NodeJS.ErrnoException;
      mounted?: string;
      unmounted?: string;
      fileAfter: boolean;
      notAMountPoint: NodeJS.ErrnoException;
      badFsType: NodeJS.ErrnoException;
    }>(child, ['-m', '--propagation', 'private'], [target]);
    expect(r.isPromise).toBe(true);
    expect(r.mounted).toMatch(/ - tmpfs kataTest rw,/);
    expect(r.mounted?.split(' ')[5]).toMatch(/nosuid,nodev,noexec/);
    expect(r.mounted).toMatch(/size=1024k,mode=711/);
    expect(r.unmounted).toBeUndefined();
    expect(r.fileAfter).toBe(false); // the file lived on the tmpfs
    expect(r.notAMountPoint).toEqual({ message: `unmount ${target}/inside: EINVAL`, code: 'EINVAL', syscall: 'umount2', errno: -22 });
    expect(r.badFsType).toMatchObject({ message: `mount no-such-fs none at ${target}: ENODEV`, code: 'ENODEV', syscall: 'mount' });
    // The same error, off the JS thread or on it (PID 1's boot mounts).
    const noTarget = { message: `mount tmpfs kataTest at ${target}/no/such/dir: ENOENT`, code: 'ENOENT', syscall: 'mount', errno: -2 };
    expect(r.noTarget).toEqual(noTarget);
    expect(r.syncNoTarget).toEqual(noTarget);
    // Nothing leaked into this worker's mount namespace.
    expect(mountLine(readFileSync('/proc/self/mountinfo', 'utf8'), target)).toBeUndefined();
  });
});

describe('hostname and namespaces', () => {
  it('sets the hostname in a new UTS namespace, returns with setns, and unshares from JS', async () => {
    const child = await bundle(
      'uts',
      `import { sethostname, setns, unshare, CLONE_NEWUTS, CLONE_NEWNS } from NATIVE;
       import { openSync, closeSync } from 'node:fs';
       import { hostname } from 'node:os';
       const errorOf = (fn) => { try { fn(); return null; } catch (e) { return { message: e.message, code: e.code }; } };
       sethostname('kata-uts-test');
       const afterSet = hostname();
       const hostNs = openSync('/proc/' + process.argv[2] + '/ns/uts', 'r');
       setns(hostNs, CLONE_NEWUTS);
       closeSync(hostNs);
       const afterSetns = hostname();
       unshare(CLONE_NEWUTS);
       sethostname('kata-uts-second');
       const afterUnshare = hostname();
       const mntNs = openSync('/proc/self/ns/mnt', 'r');
       const mountNs = errorOf(() => setns(mntNs, CLONE_NEWNS));
       const badSetns = errorOf(() => setns(0x7ffff, 0));
       console.log(JSON.stringify({ afterSet, afterSetns, afterUnshare, mountNs, badSetns }));`,
    );
    const before = hostname();
    const r = runChild<Record<string, unknown>>(child, ['-u'], [String(process.pid)]);
    expect(r.afterSet).toBe('kata-uts-test');
    expect(r.afterSetns).toBe(before); // back in this worker's namespace
    expect(r.afterUnshare).toBe('kata-uts-second');
    // Node is multi-threaded: the kernel refuses to move it into a mount namespace (see namespaces.ts).
    expect(r.mountNs).toMatchObject({ message: expect.stringMatching(/^enter namespace fd \d+: EINVAL$/), code: 'EINVAL' });
    expect(r.badSetns).toEqual({ message: `enter namespace fd ${0x7ffff}: EBADF`, code: 'EBADF' });
    expect(hostname()).toBe(before);
  });
});

describe('loading the addon', () => {
  it('is found beside a bundle, and a missing addon names every path tried', async () => {
    const source = `import { native, isChildSubreaper } from NATIVE;
       try { console.log(JSON.stringify({ subreaper: isChildSubreaper(), sync: typeof native().syncAsync })); }
       catch (e) { console.log(JSON.stringify({ error: e.message, code: e.code })); }`;
    const withAddon = await bundle('load-ok', source);
    expect(runChild(withAddon, null)).toEqual({ subreaper: false, sync: 'function' });
    const without = await bundle('load-missing', source, false);
    const r = runChild<{ error: string; code: string }>(without, null);
    expect(r.code).toBe('ERR_NATIVE_ADDON_MISSING');
    expect(r.error).toContain(join(dir, 'load-missing', 'native', 'kata_native.node'));
    expect(r.error).toMatch(/^load native addon kata_native\.node: not found; tried /);
    expect(existsSync(join(dir, 'load-missing', 'native'))).toBe(false);
  });
});
