// Runs one guest scenario for real and prints what it observed as one JSON line.
// guest-namespaces.test.ts bundles this file and runs it as root inside
// `unshare -m -n --propagation private`, so every mount and network device dies with the
// private namespaces.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { updateEphemeralMounts } from '../../agent/src/guest/ephemeral-mounts';
import { onlineCpus } from '../../agent/src/guest/online-cpu-mem';
import { readMountTable } from '../../agent/src/guest/mount-table';
import { removeStaleShareMounts } from '../../agent/src/guest/share-mounts';
import { waitForSysfs } from '../../agent/src/guest/sysfs-changes';
import { MS_BIND } from '../../agent/src/native/constants';
import { mount } from '../../agent/src/native/mount';
import { RpcError } from '../../agent/src/ttrpc/status';

function mountAt(target: string) {
  return readMountTable().filter((m) => m.mountPoint === target).pop();
}

async function failure(fn: () => Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await fn();
  } catch (err) {
    return err instanceof RpcError ? { code: err.code, message: err.message } : { code: -1, message: String(err) };
  }
  return { code: 0, message: 'no error' };
}

async function bindFile(source: string, target: string): Promise<void> {
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, '');
  await mount(source, target, null, MS_BIND);
}

const scenarios: Record<string, (dir: string) => unknown> = {
  // The wake-up the real /sys relies on: a kernel uevent, with no directory watch at all. The
  // uevent here is a bridge device added in this private network namespace (uevents of network
  // devices reach the listeners of their own namespace only).
  async 'uevent-wakes-sysfs-wait'(dir) {
    const flag = path.join(dir, 'appeared');
    const probe = () => (existsSync(flag) ? 'seen' : undefined);
    const waiting = waitForSysfs({ probe, dirs: [], uevents: true, timeoutMs: 10_000, timeoutMessage: () => 'no uevent' });
    writeFileSync(flag, '');
    const t0 = Date.now();
    execFileSync('ip', ['link', 'add', 'kata-ue0', 'type', 'bridge']);
    return { result: await waiting, ms: Date.now() - t0 };
  },

  async 'no-uevent-waits-for-deadline'(dir) {
    const flag = path.join(dir, 'appeared');
    const probe = () => (existsSync(flag) ? 'seen' : undefined);
    const waiting = waitForSysfs({ probe, dirs: [], uevents: false, timeoutMs: 300, timeoutMessage: () => 'no uevent' });
    writeFileSync(flag, '');
    const t0 = Date.now();
    execFileSync('ip', ['link', 'add', 'kata-ue0', 'type', 'bridge']);
    // Nothing wakes the wait; the deadline's last look still finds the condition.
    return { result: await waiting, waitedMs: Date.now() - t0 };
  },

  // OnlineCPUMem on a fake tree with the uevent listener on (as on the real /sys).
  async 'online-cpus-with-uevents'(dir) {
    const sys = path.join(dir, 'sys');
    mkdirSync(path.join(sys, 'devices/system/cpu/cpu0'), { recursive: true });
    mkdirSync(path.join(sys, 'devices/system/cpu/cpu1'), { recursive: true });
    writeFileSync(path.join(sys, 'devices/system/cpu/cpu1/online'), '0');
    const online = await onlineCpus(2, { sysRoot: sys, timeoutMs: 5_000, uevents: true });
    return { online, cpu1: readFileSync(path.join(sys, 'devices/system/cpu/cpu1/online'), 'utf8') };
  },

  async 'ephemeral-resize'(dir) {
    const eph = path.join(dir, 'ephemeral');
    const plain = path.join(dir, 'plain');
    mkdirSync(eph);
    mkdirSync(plain);
    await mount('tmpfs', eph, 'tmpfs', 0, 'size=1m,mode=755');
    writeFileSync(path.join(eph, 'kept'), 'data');
    const storage = (mountPoint: string, options: string[], driver = 'ephemeral') => ({ driver, fstype: 'tmpfs', options, mount_point: mountPoint });
    const before = mountAt(eph)?.superOptions;
    // A bad storage anywhere in the list changes nothing.
    const mixed = await failure(() => updateEphemeralMounts([storage(eph, ['size=2m']), storage(plain, ['size=2m'])]));
    const notEphemeral = await failure(() => updateEphemeralMounts([storage(eph, ['size=2m'], 'local')]));
    const afterFailures = mountAt(eph)?.superOptions;
    await updateEphemeralMounts([storage(eph, ['size=4m', 'nosuid'])]);
    const after = mountAt(eph);
    return { before, mixed, notEphemeral, afterFailures, after: after?.superOptions, fileKept: readFileSync(path.join(eph, 'kept'), 'utf8') };
  },

  async 'stale-share'(dir) {
    const host = path.join(dir, 'host');
    const share = path.join(dir, 'shared', 'containers');
    mkdirSync(host, { recursive: true });
    for (const f of ['configmap-v1', 'secret', 'outside-src']) writeFileSync(path.join(host, f), f);
    const gone = path.join(share, 'c1', 'etc-config');
    const live = path.join(share, 'c1', 'etc-secret');
    const outside = path.join(dir, 'elsewhere', 'target');
    await bindFile(path.join(host, 'configmap-v1'), gone);
    await bindFile(path.join(host, 'secret'), live);
    await bindFile(path.join(host, 'outside-src'), outside);
    // The host removes the old ConfigMap revision and the file outside the share.
    rmSync(path.join(host, 'configmap-v1'));
    rmSync(path.join(host, 'outside-src'));
    const rootBefore = mountAt(gone)?.root;
    const removed = await removeStaleShareMounts({ shareDir: share });
    return { rootBefore, removed, goneMounted: !!mountAt(gone), liveMounted: !!mountAt(live), outsideMounted: !!mountAt(outside), again: await removeStaleShareMounts({ shareDir: share }) };
  },
};

const [name, dir] = process.argv.slice(2);
try {
  const result = await scenarios[name!]!(dir!);
  console.log(JSON.stringify({ result }));
} catch (err) {
  console.log(JSON.stringify({ error: { message: (err as Error).message, stack: (err as Error).stack } }));
}
