// Runs one storage scenario for real (mounts and all) and prints what it observed as one JSON
// line. storage-mounts.test.ts bundles this file and runs it as root inside
// `unshare -m --propagation private`, so every mount it makes dies with its private namespace.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Logger } from '../../agent/src/log/logger';
import { GuestPathConfinement } from '../../agent/src/storage/confinement';
import { StorageManager } from '../../agent/src/storage/manager';
import { mountAt } from '../../agent/src/storage/mountinfo';
import { bindDirectoryAsSharedFs } from '../helpers/storage-testing';
import type { Storage } from '../../agent/src/proto/messages.generated';
import { RpcError } from '../../agent/src/ttrpc/status';

const log = Logger.create('critical', []);

function spec(fields: Partial<Storage> & Pick<Storage, 'driver' | 'mount_point'>): Storage {
  return { driver_options: [], source: '', fstype: '', options: [], fs_group: null, shared: false, ...fields };
}

const [name, dir] = process.argv.slice(2);

// Every scenario mounts under its temporary directory: allowed besides Kata's guest paths.
function manager(extra: Partial<ConstructorParameters<typeof StorageManager>[0]> = {}): StorageManager {
  return new StorageManager({ log, hotplugTimeoutMs: 1000, confinement: new GuestPathConfinement({ extraRoots: dir ? [dir] : [] }), ...extra });
}

async function failure(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RpcError) return { code: err.code, message: err.message };
    return { code: -1, message: String(err) };
  }
  return { code: 0, message: 'no error' };
}

function tryWrite(file: string): string {
  try {
    writeFileSync(file, 'x');
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

const scenarios: Record<string, (dir: string) => Promise<unknown>> = {
  // The sandbox /dev/shm storage exactly as the Kata 3.19.1 runtime sends it.
  async 'ephemeral-shm'(dir) {
    const m = manager();
    const mountPoint = path.join(dir, 'sandbox/shm');
    const added = await m.add('sandbox', [
      spec({ driver: 'ephemeral', source: 'shm', fstype: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'mode=1777', 'size=67108864'], mount_point: mountPoint }),
    ]);
    const mounted = await mountAt(mountPoint);
    const mode = statSync(mountPoint).mode & 0o7777;
    await m.release('sandbox');
    return { added, mounted, mode, afterRelease: await mountAt(mountPoint), dirLeft: existsSync(mountPoint) };
  },

  async refcount(dir) {
    const m = manager();
    const mountPoint = path.join(dir, 'shared-tmp');
    const s = spec({ driver: 'ephemeral', source: 'tmpfs', fstype: 'tmpfs', mount_point: mountPoint });
    await m.add('sandbox', [s]);
    await m.add('c1', [s]);
    writeFileSync(path.join(mountPoint, 'f'), 'data');
    const bothHeld = { mounted: !!(await mountAt(mountPoint)), snapshot: m.snapshot() };
    await m.release('sandbox');
    const oneHeld = { mounted: !!(await mountAt(mountPoint)), file: readFileSync(path.join(mountPoint, 'f'), 'utf8'), snapshot: m.snapshot() };
    await m.release('c1');
    return { bothHeld, oneHeld, noneHeld: { mounted: !!(await mountAt(mountPoint)), snapshot: m.snapshot() } };
  },

  async 'watchable-bind'(dir) {
    const m = manager();
    const srcDir = path.join(dir, 'src/configmap');
    mkdirSync(srcDir, { recursive: true });
    writeFileSync(path.join(srcDir, 'key'), 'value-1');
    const srcFile = path.join(dir, 'src/hosts');
    writeFileSync(srcFile, '127.0.0.1 localhost\n');
    const dirTarget = path.join(dir, 'c1/configmap');
    const fileTarget = path.join(dir, 'c1/etc/hosts');
    await m.add('c1', [
      spec({ driver: 'watchable-bind', source: srcDir, options: ['ro'], mount_point: dirTarget }),
      spec({ driver: 'watchable-bind', source: srcFile, mount_point: fileTarget }),
    ]);
    const before = readFileSync(path.join(dirTarget, 'key'), 'utf8');
    writeFileSync(path.join(srcDir, 'key'), 'value-2'); // the host updates the ConfigMap
    const observed = {
      before,
      after: readFileSync(path.join(dirTarget, 'key'), 'utf8'),
      writeThroughRo: tryWrite(path.join(dirTarget, 'new')),
      file: readFileSync(fileTarget, 'utf8'),
      dirMount: await mountAt(dirTarget),
      fileMount: !!(await mountAt(fileTarget)),
    };
    await m.release('c1');
    const missing = await failure(m.add('c2', [spec({ driver: 'watchable-bind', source: path.join(dir, 'nope'), mount_point: path.join(dir, 'c2/x') })]));
    return {
      ...observed,
      afterRelease: { dir: !!(await mountAt(dirTarget)), file: !!(await mountAt(fileTarget)), fileTargetLeft: existsSync(fileTarget), c1Left: existsSync(path.join(dir, 'c1')) },
      missing,
      sourceIntact: readFileSync(path.join(srcDir, 'key'), 'utf8'),
    };
  },

  async overlayfs(dir) {
    const m = manager();
    const lower = path.join(dir, 'lower');
    mkdirSync(lower);
    writeFileSync(path.join(lower, 'a'), 'from lower');
    const upper = path.join(dir, 'rw/upper');
    const work = path.join(dir, 'rw/work');
    const mountPoint = path.join(dir, 'merged');
    await m.add('c1', [spec({ driver: 'overlayfs', source: 'overlay', fstype: 'overlay', options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`], mount_point: mountPoint })]);
    writeFileSync(path.join(mountPoint, 'b'), 'written in container');
    const observed = {
      mounted: await mountAt(mountPoint),
      a: readFileSync(path.join(mountPoint, 'a'), 'utf8'),
      bInUpper: existsSync(path.join(upper, 'b')),
      bInLower: existsSync(path.join(lower, 'b')),
    };
    await m.release('c1');
    const noLower = await failure(m.add('c2', [spec({ driver: 'overlayfs', options: [`upperdir=${upper}`], mount_point: path.join(dir, 'm2') })]));
    return { ...observed, afterRelease: !!(await mountAt(mountPoint)), noLower };
  },

  // A failing second storage takes the first one down with it.
  async rollback(dir) {
    const m = manager();
    const first = path.join(dir, 'new/first');
    const err = await failure(
      m.add('c1', [
        spec({ driver: 'ephemeral', source: 'tmpfs', fstype: 'tmpfs', mount_point: first }),
        spec({ driver: 'virtio-fs', source: 'kataShared', fstype: 'virtiofs', mount_point: path.join(dir, 'shared/containers') }),
      ]),
    );
    return { err, firstMounted: !!(await mountAt(first)), firstLeft: existsSync(first), newLeft: existsSync(path.join(dir, 'new')), sharedLeft: existsSync(path.join(dir, 'shared')), snapshot: m.snapshot() };
  },

  async 'shared-fs-on-host'(dir) {
    const m = manager();
    const virtioFs = await failure(m.add('sandbox', [spec({ driver: 'virtio-fs', source: 'kataShared', fstype: 'virtiofs', mount_point: path.join(dir, 'vfs') })]));
    const ninep = await failure(
      m.add('sandbox', [spec({ driver: '9p', source: 'kataShared', fstype: '9p', options: ['trans=virtio,version=9p2000.L,cache=mmap', 'nodev', 'msize=8192'], mount_point: path.join(dir, '9p') })]),
    );
    return { virtioFs, ninep, left: existsSync(path.join(dir, 'vfs')) || existsSync(path.join(dir, '9p')) };
  },

  // The stand-in every host test uses for virtio-fs kataShared.
  async 'shared-fs-stand-in'(dir) {
    const hostDir = path.join(dir, 'host-share');
    mkdirSync(path.join(hostDir, 'cid/rootfs/bin'), { recursive: true });
    writeFileSync(path.join(hostDir, 'cid/rootfs/bin/sh'), '#!fake');
    const m = manager({ drivers: { 'virtio-fs': bindDirectoryAsSharedFs(hostDir) } });
    const mountPoint = path.join(dir, 'run/kata-containers/shared/containers');
    const added = await m.add('sandbox', [spec({ driver: 'virtio-fs', source: 'kataShared', fstype: 'virtiofs', mount_point: `${mountPoint}/` })]);
    const seen = readFileSync(path.join(mountPoint, 'cid/rootfs/bin/sh'), 'utf8');
    await m.release('sandbox');
    return { added, seen, afterRelease: !!(await mountAt(mountPoint)), hostIntact: existsSync(path.join(hostDir, 'cid/rootfs/bin/sh')) };
  },

  // A process still inside the mount when its last owner goes: detached, not left behind.
  async 'busy-release'(dir) {
    const m = manager();
    const mountPoint = path.join(dir, 'busy');
    await m.add('c1', [spec({ driver: 'ephemeral', source: 'tmpfs', fstype: 'tmpfs', mount_point: mountPoint })]);
    const cwd = process.cwd();
    process.chdir(mountPoint);
    try {
      await m.release('c1');
    } finally {
      process.chdir(cwd);
    }
    return { afterRelease: !!(await mountAt(mountPoint)) };
  },

  async 'ephemeral-fsgid'(dir) {
    const m = manager();
    const mountPoint = path.join(dir, 'emptydir');
    await m.add('c1', [spec({ driver: 'ephemeral', source: 'tmpfs', fstype: 'tmpfs', options: ['fsgid=3000', 'size=1m'], mount_point: mountPoint })]);
    const info = statSync(mountPoint);
    const mounted = await mountAt(mountPoint);
    await m.release('c1');
    return { gid: info.gid, setgid: (info.mode & 0o2000) !== 0, mounted };
  },

  // A real block device by /dev path (a loop device over an ext4 image), as "blk" gets it
  // for a disk present at boot; argv[4] is the loop device.
  async 'blk-dev-path'(dir) {
    const device = process.argv[4]!;
    const m = manager();
    const mountPoint = path.join(dir, 'rootfs');
    await m.add('c1', [spec({ driver: 'blk', source: device, fstype: 'ext4', options: ['ro'], mount_point: mountPoint })]);
    const observed = { mounted: await mountAt(mountPoint), content: readFileSync(path.join(mountPoint, 'hello'), 'utf8'), write: tryWrite(path.join(mountPoint, 'x')) };
    await m.release('c1');
    const noFstype = await failure(m.add('c2', [spec({ driver: 'blk', source: device, mount_point: path.join(dir, 'r2') })]));
    return { ...observed, afterRelease: !!(await mountAt(mountPoint)), noFstype };
  },

  // The CreateContainer blk storage as the Kata runtime sends it (PCI path "02/00", ext4), with
  // a sysfs-shaped tree whose disk node is the loop device; argv[4] is the loop device.
  async 'blk-pci-path'(dir) {
    const device = process.argv[4]!;
    const sysRoot = path.join(dir, 'sys');
    const devRoot = path.join(dir, 'dev');
    const disk = path.join(sysRoot, 'devices/pci0000:00/0000:00:02.0/0000:01:00.0');
    mkdirSync(path.join(sysRoot, 'devices/pci0000:00/0000:00:02.0/pci_bus/0000:01'), { recursive: true });
    mkdirSync(path.join(disk, 'virtio2/block/vda'), { recursive: true });
    mkdirSync(devRoot);
    symlinkSync(device, path.join(devRoot, 'vda'));
    const m = manager({ sysRoot, devRoot });
    const mountPoint = path.join(dir, 'run/kata-containers/shared/containers/3f6c2a9d');
    const added = await m.add('3f6c2a9d', [spec({ driver: 'blk', source: '02/00', fstype: 'ext4', mount_point: mountPoint })]);
    const observed = { added, content: readFileSync(path.join(mountPoint, 'hello'), 'utf8'), write: tryWrite(path.join(mountPoint, 'rw-check')) };
    await m.release('3f6c2a9d');
    const wrongFs = await failure(m.add('c2', [spec({ driver: 'blk', source: '02/00', fstype: 'xfs', mount_point: path.join(dir, 'wrong/fs') })]));
    return { ...observed, afterRelease: !!(await mountAt(mountPoint)), wrongFs, wrongLeft: existsSync(path.join(dir, 'wrong')) };
  },
};

const scenario = name ? scenarios[name] : undefined;
if (!scenario || !dir) {
  process.stderr.write(`usage: storage-ns-runner <${Object.keys(scenarios).join('|')}> <dir>\n`);
  process.exit(2);
}
chmodSync(dir, 0o755);
scenario(dir).then(
  (result) => process.stdout.write(`${JSON.stringify({ result })}\n`),
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? { name: err.name, message: err.message, code: (err as RpcError).code } : String(err) })}\n`);
    process.exitCode = 1;
  },
);
