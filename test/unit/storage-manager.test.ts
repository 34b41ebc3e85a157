// The storage manager's sharing and rollback rules, with drivers that need no mount: "local"
// (a real directory), plus drivers the tests plug in through the documented override.
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Logger } from '../../agent/src/log/logger';
import type { StorageDriver } from '../../agent/src/storage/driver';
import { GuestPathConfinement } from '../../agent/src/storage/confinement';
import { StorageManager } from '../../agent/src/storage/manager';
import type { Storage } from '../../agent/src/proto/messages.generated';
import { Code } from '../../agent/src/ttrpc/status';
import { rpcRejection } from '../helpers/rpc-rejection';

let root: string;
const log = Logger.create('critical', []);
// The tests' mount points are temporary directories: allowed besides Kata's guest paths.
const inRoot = () => new GuestPathConfinement({ extraRoots: [root] });

function storage(fields: Partial<Storage> & Pick<Storage, 'driver' | 'mount_point'>): Storage {
  return { driver_options: [], source: '', fstype: '', options: [], fs_group: null, shared: false, ...fields };
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'storage-manager-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('StorageManager', () => {
  it('shares a mount point between owners and removes it with the last one', async () => {
    const manager = new StorageManager({ log, hotplugTimeoutMs: 1000 , confinement: inRoot() });
    const dir = path.join(root, 'sandbox/local/cache');
    const spec = storage({ driver: 'local', mount_point: `${dir}/`, options: ['mode=0777'] });
    expect(await manager.add('c1', [spec])).toEqual([dir]);
    writeFileSync(path.join(dir, 'data'), 'kept while shared');
    expect(await manager.add('c2', [spec])).toEqual([dir]);
    expect(manager.snapshot()).toEqual([{ mountPoint: dir, driver: 'local', owners: ['c1', 'c2'] }]);

    await manager.release('c1');
    expect(existsSync(path.join(dir, 'data'))).toBe(true);
    expect(manager.snapshot()).toEqual([{ mountPoint: dir, driver: 'local', owners: ['c2'] }]);

    await manager.release('c2');
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(path.join(root, 'sandbox'))).toBe(false);
    expect(manager.snapshot()).toEqual([]);
  });

  it('creates a local volume with the requested mode, fsgid and fs_group', async () => {
    const manager = new StorageManager({ log, hotplugTimeoutMs: 1000 , confinement: inRoot() });
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    mkdirSync(b);
    writeFileSync(path.join(b, 'file'), 'x');
    await manager.add('sandbox', [
      storage({ driver: 'local', mount_point: a, options: ['mode=0777', 'fsgid=4321'] }),
      storage({ driver: 'local', mount_point: b, fs_group: { group_id: 1234, group_change_policy: 'Always' } }),
    ]);
    const aInfo = statSync(a);
    expect(aInfo.mode & 0o7777).toBe(0o2777);
    expect(aInfo.gid).toBe(4321);
    const fileInfo = statSync(path.join(b, 'file'));
    expect(fileInfo.gid).toBe(1234);
    expect(fileInfo.mode & 0o060).toBe(0o060);
    expect(statSync(b).mode & 0o2070).toBe(0o2070);
    await manager.release('sandbox');
    // b existed before: the manager does not delete what it did not create.
    expect(existsSync(path.join(b, 'file'))).toBe(true);
    expect(existsSync(a)).toBe(false);
  });

  it('skips the fs_group walk under OnRootMismatch when the root is already right', async () => {
    const manager = new StorageManager({ log, hotplugTimeoutMs: 1000 , confinement: inRoot() });
    const dir = path.join(root, 'vol');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'file'), 'x');
    await manager.add('c1', [storage({ driver: 'local', mount_point: dir, fs_group: { group_id: 777, group_change_policy: 'Always' } })]);
    await manager.release('c1');
    // Root now matches: a new file keeps its group under OnRootMismatch, and is changed under Always.
    writeFileSync(path.join(dir, 'new'), 'y');
    chownSync(path.join(dir, 'new'), 0, 0); // (the setgid directory gave it group 777)
    await manager.add('c2', [storage({ driver: 'local', mount_point: dir, fs_group: { group_id: 777, group_change_policy: 'OnRootMismatch' } })]);
    expect(statSync(path.join(dir, 'new')).gid).toBe(0);
    await manager.release('c2');
    await manager.add('c3', [storage({ driver: 'local', mount_point: dir, fs_group: { group_id: 777, group_change_policy: 'Always' } })]);
    expect(statSync(path.join(dir, 'new')).gid).toBe(777);
  });

  it('rolls back the storages of a failed add and names the failing one', async () => {
    const manager = new StorageManager({ log, hotplugTimeoutMs: 1000 , confinement: inRoot() });
    const ok = path.join(root, 'ok');
    const err = await rpcRejection(
      manager.add('c1', [
        storage({ driver: 'local', mount_point: ok }),
        storage({ driver: 'no-such-driver', source: 'x', mount_point: path.join(root, 'bad') }),
      ]),
    );
    expect(err.code).toBe(Code.UNIMPLEMENTED);
    expect(err.message).toContain('"no-such-driver"');
    expect(existsSync(ok)).toBe(false);
    expect(manager.snapshot()).toEqual([]);
  });

  it('keeps a storage shared with another owner when a later add fails', async () => {
    const manager = new StorageManager({ log, hotplugTimeoutMs: 1000 , confinement: inRoot() });
    const shared = path.join(root, 'shared');
    await manager.add('sandbox', [storage({ driver: 'local', mount_point: shared })]);
    await rpcRejection(
      manager.add('c1', [storage({ driver: 'local', mount_point: shared }), storage({ driver: 'local', mount_point: 'relative/path' })]),
    );
    expect(existsSync(shared)).toBe(true);
    expect(manager.snapshot()).toEqual([{ mountPoint: shared, driver: 'local', owners: ['sandbox'] }]);
  });

  it('fails a missing hot-plugged disk with DEADLINE_EXCEEDED and holds nothing', async () => {
    const sysRoot = path.join(root, 'sys');
    const devRoot = path.join(root, 'dev');
    mkdirSync(path.join(sysRoot, 'devices/pci0000:00'), { recursive: true });
    mkdirSync(devRoot);
    const manager = new StorageManager({ log, hotplugTimeoutMs: 100, sysRoot, devRoot , confinement: inRoot() });
    const mountPoint = path.join(root, 'rootfs');
    const err = await rpcRejection(manager.add('c1', [storage({ driver: 'blk', source: '02/00', fstype: 'ext4', mount_point: mountPoint })]));
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(err.message).toMatch(/PCI path 02\/00.*100 ms/);
    expect(existsSync(mountPoint)).toBe(false);
    expect(manager.snapshot()).toEqual([]);
  });

  it('releases everything for every owner on releaseAll', async () => {
    const manager = new StorageManager({ log, hotplugTimeoutMs: 1000 , confinement: inRoot() });
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    await manager.add('sandbox', [storage({ driver: 'local', mount_point: a })]);
    await manager.add('c1', [storage({ driver: 'local', mount_point: a }), storage({ driver: 'local', mount_point: b })]);
    await manager.releaseAll();
    expect(manager.snapshot()).toEqual([]);
    expect(existsSync(a) || existsSync(b)).toBe(false);
  });

  it('stops a device wait with CANCELLED when the call is aborted, holding nothing', async () => {
    const sysRoot = path.join(root, 'sys');
    const devRoot = path.join(root, 'dev');
    mkdirSync(path.join(sysRoot, 'devices/pci0000:00'), { recursive: true });
    mkdirSync(devRoot);
    const manager = new StorageManager({ log, hotplugTimeoutMs: 30_000, sysRoot, devRoot , confinement: inRoot() });
    const abort = new AbortController();
    const local = path.join(root, 'first');
    const pending = manager.add(
      'c1',
      [storage({ driver: 'local', mount_point: local }), storage({ driver: 'blk', source: '02/00', fstype: 'ext4', mount_point: path.join(root, 'rootfs') })],
      abort.signal,
    );
    setImmediate(() => abort.abort());
    const started = Date.now();
    const err = await rpcRejection(pending);
    expect(err.code).toBe(Code.CANCELLED);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(existsSync(local)).toBe(false);
    expect(manager.snapshot()).toEqual([]);
  });

  it('says image_guest_pull is not supported', async () => {
    const manager = new StorageManager({ log, hotplugTimeoutMs: 1000 , confinement: inRoot() });
    const err = await rpcRejection(manager.add('c1', [storage({ driver: 'image_guest_pull', source: 'docker.io/library/nginx', mount_point: path.join(root, 'img') })]));
    expect(err.code).toBe(Code.UNIMPLEMENTED);
    expect(err.message).toContain('image_guest_pull');
  });

  it('lets drivers be replaced, and one add serve concurrent owners of a mount point', async () => {
    let adds = 0;
    let releases = 0;
    let finishAdd!: () => void;
    const gate = new Promise<void>((resolve) => (finishAdd = resolve));
    let entered!: () => void;
    const driverEntered = new Promise<void>((resolve) => (entered = resolve));
    const slowDriver: StorageDriver = {
      add: async (spec) => {
        adds++;
        entered();
        await gate;
        return { mountPoint: spec.mount_point, release: async () => void releases++ };
      },
    };
    const manager = new StorageManager({ log, hotplugTimeoutMs: 1000, drivers: { 'virtio-fs': slowDriver }, confinement: inRoot() });
    const spec = storage({ driver: 'virtio-fs', source: 'kataShared', fstype: 'virtiofs', mount_point: '/run/kata-containers/shared/containers/' });
    const first = manager.add('sandbox', [spec]);
    const second = manager.add('c1', [spec]);
    await driverEntered;
    finishAdd();
    expect(await first).toEqual(['/run/kata-containers/shared/containers']);
    expect(await second).toEqual(['/run/kata-containers/shared/containers']);
    expect(adds).toBe(1);
    await manager.release('sandbox');
    expect(releases).toBe(0);
    await manager.release('c1');
    expect(releases).toBe(1);

    const other: StorageDriver = { add: async (spec) => ({ mountPoint: spec.mount_point, release: async () => undefined }) };
    manager.registerDriver('custom', other);
    expect(await manager.add('c2', [storage({ driver: 'custom', mount_point: '/run/kata-containers/sandbox/x' })])).toEqual(['/run/kata-containers/sandbox/x']);
  });
});
