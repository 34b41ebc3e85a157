// Guest path confinement (agent/src/storage/confinement.ts): the hostile requests of issue 16
// are refused with PERMISSION_DENIED before anything is created, changed or mounted, and every
// guest path Kata's runtimes send (the 3.19.1 fixtures, and the paths read in Kata's source)
// still passes.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContainerManager } from '../../agent/src/container/manager';
import type { OomEvents } from '../../agent/src/container/oom-events';
import type { OciRuntime } from '../../agent/src/container/runtime/oci-runtime';
import { DEFAULT_CONFIG } from '../../agent/src/config/config';
import { Logger } from '../../agent/src/log/logger';
import { RpcMetrics } from '../../agent/src/metrics';
import { PolicyHolder } from '../../agent/src/policy';
import type { CreateContainerRequest, Mount } from '../../agent/src/proto/messages.generated';
import { AGENT_SERVICE, decodeMessage, findMethod } from '../../agent/src/proto/schema';
import type { Sandbox } from '../../agent/src/sandbox/sandbox';
import { SHARED_FS_MOUNT, withShareRootfs, withSharedFs } from '../../agent/src/sandbox/shared-fs';
import { guestServiceHandlers } from '../../agent/src/service/guest-service';
import type { TypedHandler } from '../../agent/src/service/typed';
import { checkExtraRoot, GuestPathConfinement, KATA_GUEST_ROOTS } from '../../agent/src/storage/confinement';
import type { StorageDriver } from '../../agent/src/storage/driver';
import { StorageManager } from '../../agent/src/storage/manager';
import type { Storage } from '../../agent/src/proto/messages.generated';
import type { StorageManagerApi } from '../../agent/src/storage/types';
import { Code, RpcError } from '../../agent/src/ttrpc/status';
import { KATA_FIXTURES } from '../fixtures';
import { rpcRejection } from '../helpers/rpc-rejection';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const log = Logger.create('critical', []);
const CID = '3f6c2a9d8e1b4c7a9f0e2d1c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2';

function storage(fields: Partial<Storage> & Pick<Storage, 'driver' | 'mount_point'>): Storage {
  return { driver_options: [], source: '', fstype: '', options: [], fs_group: null, shared: false, ...fields };
}

/** A request exactly as Kata 3.19.1 encoded it (test/fixtures). */
function fixture(method: string, file: string): Obj {
  return decodeMessage<Obj>(findMethod(AGENT_SERVICE, method)!.requestType, readFileSync(path.join(KATA_FIXTURES, file)));
}

function denied(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RpcError);
    return err as RpcError;
  }
  throw new Error('not refused');
}

describe('the roots match what Kata sends', () => {
  const confinement = new GuestPathConfinement();

  it('passes every storage and every bind source of the Kata 3.19.1 fixtures', async () => {
    const sandbox = fixture('CreateSandbox', 'create-sandbox-virtiofs.bin');
    const containers = [fixture('CreateContainer', 'create-container-virtiofs.bin'), fixture('CreateContainer', 'create-container-blk.bin')];
    const storages = [...(sandbox.storages as Storage[]), ...containers.flatMap((c) => (c.storages ?? []) as Storage[])];
    expect(storages.map((s) => s.mount_point)).toEqual([
      '/run/kata-containers/shared/containers/',
      '/run/kata-containers/sandbox/shm',
      `/run/kata-containers/shared/containers/${CID}`,
    ]);
    for (const s of storages) await confinement.checkStorage(storage(s), `fixture storage ${s.driver}`);
    for (const c of containers) {
      const mounts = (c.OCI.Mounts as Obj[]).map((m) => ({ type: m.type, source: m.source, options: m.options }));
      expect(mounts.filter((m) => m.type === 'bind').length).toBe(5);
      await confinement.checkContainerMounts(mounts, 'fixture OCI mounts');
      expect(await confinement.checkPath('container rootfs', c.OCI.Root.Path, 'fixture root.path')).toMatch(new RegExp(`^/run/kata-containers/shared/containers/${CID}(/rootfs)?$`));
    }
  });

  it("passes the paths read in Kata's source and this agent's own share", async () => {
    const kataStorages: Storage[] = [
      // runtime-go handleLocalStorage, handleEphemeralStorage (and hugepages), handleBlkOCIMounts
      storage({ driver: 'local', source: 'local', fstype: 'local', options: ['mode=0777', 'fsgid=2000'], mount_point: `/run/kata-containers/shared/containers/${CID}/rootfs/local/cache` }),
      storage({ driver: 'ephemeral', source: 'tmpfs', fstype: 'tmpfs', options: ['fsgid=2000'], mount_point: '/run/kata-containers/sandbox/ephemeral/scratch' }),
      storage({ driver: 'ephemeral', source: 'nodev', fstype: 'hugetlbfs', options: ['pagesize=2097152,size=4194304'], mount_point: '/run/kata-containers/sandbox/ephemeral/hugepages' }),
      storage({ driver: 'blk', source: '02/00', fstype: 'ext4', mount_point: '/run/kata-containers/sandbox/storage/MDIvMDA=' }),
      // container.go: watchable-bind of a ConfigMap from the share
      storage({ driver: 'watchable-bind', source: `/run/kata-containers/shared/containers/${CID}-0d1e2f-config`, fstype: 'bind', mount_point: `/run/kata-containers/shared/containers/watchable/${CID}-0d1e2f-config` }),
      // nydus share, rafs overlay; erofs layers and their overlay; guest pull rootfs
      storage({ driver: 'virtio-fs', source: 'kataShared', fstype: 'virtiofs', mount_point: '/run/kata-containers/shared/' }),
      storage({ driver: 'overlayfs', source: 'overlay', fstype: 'overlay', options: [`upperdir=/run/kata-containers/shared/containers/${CID}/snapshotdir/fs`, `workdir=/run/kata-containers/shared/containers/${CID}/snapshotdir/work`, `lowerdir=/run/kata-containers/shared/rafs/${CID}/lowerdir`], mount_point: `/run/kata-containers/shared/containers/${CID}/rootfs` }),
      storage({ driver: 'blk', source: '02/01', fstype: 'erofs', options: ['ro'], mount_point: '/run/kata-containers/virtual-volumes/MDIvMDE=' }),
      storage({ driver: 'overlayfs', source: 'overlay', fstype: 'overlay', options: ['lowerdir=/run/kata-containers/virtual-volumes/MDIvMDE=', `upperdir=/run/kata-containers/${CID}/fs`, `workdir=/run/kata-containers/${CID}/work`], mount_point: `/run/kata-containers/${CID}/rootfs` }),
      // Kata's agent's overlay-rw (fs_handler.rs: upper and work under /run/kata-containers/<cid>), over layers the guest mounted itself
      storage({ driver: 'overlayfs', options: ['io.katacontainers.fs-opt.overlay-rw', 'lowerdir=/run/kata-containers/virtual-volumes/MDIvMDE=:/run/kata-containers/virtual-volumes/MDIvMDI='], mount_point: `/run/kata-containers/${CID}/rootfs` }),
    ];
    const ours = [...withSharedFs([], 'kataShared'), ...withShareRootfs([], CID, `/run/kata-containers/shared/containers/${CID}/rootfs`, 'kataShared')];
    expect(ours.map((s) => [s.mount_point, s.source])).toEqual([
      [SHARED_FS_MOUNT, 'kataShared'],
      [`/run/kata-containers/shared/containers/${CID}/rootfs`, `${SHARED_FS_MOUNT}/${CID}/rootfs`],
    ]);
    for (const s of [...kataStorages, ...ours]) await confinement.checkStorage(s, `${s.driver} at ${s.mount_point}`);
    // runtime-go's GetVolumeStats path (the GuestDeviceMount of a direct-assigned volume);
    // runtime-rs's AddSwapPath path (the swap disk's virt_path), and a swap file on a Kata storage.
    expect(confinement.check('volume stats', '/run/kata-containers/sandbox/storage/MDIvMDA=', 'GetVolumeStats')).toBe('/run/kata-containers/sandbox/storage/MDIvMDA=');
    confinement.check('swap', '/dev/vdc', 'AddSwapPath');
    confinement.check('swap', '/run/kata-containers/sandbox/storage/MDIvMDA=/swapfile', 'AddSwapPath');
    // Binds Kata leaves in the OCI spec unshared: host devices, /sys and /proc system mounts.
    await confinement.checkContainerMounts(
      [
        { type: 'bind', source: '/dev/fuse', options: ['rbind'] },
        { type: 'bind', source: '/sys/fs/cgroup', options: ['rbind', 'ro'] },
        { type: 'bind', source: '/proc/cpuinfo', options: ['bind'] },
        { type: 'proc', source: 'proc' },
        { type: 'tmpfs', source: 'tmpfs' },
        { type: 'sysfs', source: 'sysfs' },
        { type: 'cgroup', source: 'cgroup' },
      ],
      'system mounts',
    );
  });

  it('names where in Kata each root comes from', () => {
    for (const r of KATA_GUEST_ROOTS) {
      expect(r.root.startsWith('/')).toBe(true);
      expect(r.from.length).toBeGreaterThan(20);
    }
  });
});

describe('hostile storages get PERMISSION_DENIED and change nothing', () => {
  let etcMode: number;
  const calls: string[] = [];
  const recording: StorageDriver = {
    async add(s) {
      calls.push(`${s.driver} ${s.mount_point}`);
      return { mountPoint: s.mount_point, release: async () => undefined };
    },
  };
  // The mounting drivers record instead of mounting, so that a failing check cannot mount over
  // the host's /etc; "local" is the real driver (a chmod is what it would do).
  const manager = () =>
    new StorageManager({ log, hotplugTimeoutMs: 1000, drivers: { ephemeral: recording, 'watchable-bind': recording, 'virtio-fs': recording, overlayfs: recording } });

  beforeAll(() => {
    etcMode = statSync('/etc').mode & 0o7777;
  });
  afterEach(() => {
    // A safety net should a check ever let one through: put the host back as it was.
    if ((statSync('/etc').mode & 0o7777) !== etcMode) chmodSync('/etc', etcMode);
  });

  const mountinfo = () => readFileSync('/proc/self/mountinfo', 'utf8');

  const cases: Array<[string, Storage, RegExp]> = [
    ['local at /etc, mode 0777', storage({ driver: 'local', options: ['mode=0777'], mount_point: '/etc' }), /mount point "\/etc" is outside/],
    ['local at /usr/bin, mode 0777', storage({ driver: 'local', options: ['mode=0777'], mount_point: '/usr/bin' }), /mount point "\/usr\/bin" is outside/],
    ['local at /etc/x, mode 4777', storage({ driver: 'local', options: ['mode=4777'], mount_point: '/etc/x' }), /mount point "\/etc\/x" is outside/],
    ['local in the sandbox dir with mode 4777', storage({ driver: 'local', options: ['mode=4777'], mount_point: '/run/kata-containers/sandbox/local/x' }), /directory mode 4777 sets the setuid bit/],
    ['tmpfs over /etc/ssl', storage({ driver: 'ephemeral', source: 'tmpfs', fstype: 'tmpfs', mount_point: '/etc/ssl' }), /mount point "\/etc\/ssl" is outside/],
    ['watchable-bind of /etc', storage({ driver: 'watchable-bind', source: '/etc', fstype: 'bind', mount_point: '/run/kata-containers/shared/containers/watchable/etc' }), /bind source "\/etc" is outside/],
    ['virtio-fs with fstype bind of /etc', storage({ driver: 'virtio-fs', source: '/etc', fstype: 'bind', options: ['rbind'], mount_point: '/run/kata-containers/shared/containers/etc' }), /bind source "\/etc" is outside/],
    ['a bind source climbing out with ..', storage({ driver: 'watchable-bind', source: '/run/kata-containers/shared/containers/../../../../etc', mount_point: '/run/kata-containers/shared/containers/watchable/x' }), /bind source "\/run\/kata-containers\/shared\/containers\/..\/..\/..\/..\/etc" \(resolves to \/etc\)/],
    ['overlay upperdir in /etc', storage({ driver: 'overlayfs', options: ['lowerdir=/run/kata-containers/shared/rafs/l', 'upperdir=/etc/up', 'workdir=/run/kata-containers/x/work'], mount_point: '/run/kata-containers/x/rootfs' }), /upperdir: guest path confinement: mount point "\/etc\/up" is outside/],
    ['overlay lowerdir layer from /etc', storage({ driver: 'overlayfs', options: ['lowerdir=/run/kata-containers/shared/rafs/l:/etc', 'upperdir=/run/kata-containers/x/up', 'workdir=/run/kata-containers/x/work'], mount_point: '/run/kata-containers/x/rootfs' }), /lowerdir: guest path confinement: bind source "\/etc" is outside/],
    ['the whole Kata tree as mount point', storage({ driver: 'ephemeral', source: 'tmpfs', fstype: 'tmpfs', mount_point: '/run/kata-containers' }), /mount point "\/run\/kata-containers" is outside/],
  ];

  it.each(cases)('%s', async (_name, spec, message) => {
    const before = mountinfo();
    const m = manager();
    const err = await rpcRejection(m.add('c1', [spec]));
    expect(err.code).toBe(Code.PERMISSION_DENIED);
    expect(err.message).toMatch(/guest path confinement/);
    expect(err.message).toMatch(message);
    expect(calls).toEqual([]);
    expect(m.snapshot()).toEqual([]);
    expect(statSync('/etc').mode & 0o7777).toBe(etcMode);
    expect(existsSync('/etc/x')).toBe(false);
    expect(existsSync('/etc/up')).toBe(false);
    expect(existsSync('/run/kata-containers/sandbox/local/x')).toBe(false);
    expect(mountinfo()).toBe(before);
  });

  it('refuses the whole add when one storage is outside, without mounting the ones before it', async () => {
    const m = manager();
    const err = await rpcRejection(
      m.add('c1', [
        storage({ driver: 'ephemeral', source: 'tmpfs', fstype: 'tmpfs', mount_point: '/run/kata-containers/sandbox/ephemeral/ok' }),
        storage({ driver: 'ephemeral', source: 'tmpfs', fstype: 'tmpfs', mount_point: '/etc/ssl' }),
      ]),
    );
    expect(err.code).toBe(Code.PERMISSION_DENIED);
    expect(err.message).toMatch(/^add storage 1 \(ephemeral tmpfs\): guest path confinement: mount point "\/etc\/ssl"/);
    expect(calls).toEqual([]);
    expect(m.snapshot()).toEqual([]);
  });
});

describe('extra roots', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'confinement-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("come from the image's policy file (allow_guest_roots) and from the embedder", () => {
    const file = path.join(dir, 'policy.json');
    writeFileSync(file, JSON.stringify({ allow_guest_roots: ['/mnt/data', '/srv/volumes/'] }));
    const holder = PolicyHolder.fromFile(file);
    expect(holder.guestRoots).toEqual(['/mnt/data', '/srv/volumes']);
    const confinement = new GuestPathConfinement({ policyRoots: () => holder.guestRoots, extraRoots: [dir] });
    expect(confinement.check('mount point', '/mnt/data/vol1', 'add')).toBe('/mnt/data/vol1');
    expect(confinement.check('volume stats', '/srv/volumes', 'GetVolumeStats')).toBe('/srv/volumes');
    expect(confinement.check('swap', path.join(dir, 'swapfile'), 'AddSwapPath')).toBe(path.join(dir, 'swapfile'));
    // A prefix is not a root: /mnt/database is not under /mnt/data.
    expect(denied(() => confinement.check('mount point', '/mnt/database', 'add')).code).toBe(Code.PERMISSION_DENIED);
    expect(denied(() => confinement.check('mount point', '/mnt/data/../../etc', 'add')).message).toContain('(resolves to /etc)');
  });

  it('follow no symlink out of a root: one the host left in the share is refused, one that stays inside passes', async () => {
    const share = path.join(dir, 'share');
    mkdirSync(path.join(share, 'real'), { recursive: true });
    symlinkSync('/etc', path.join(share, 'evil'));
    symlinkSync(path.join(share, 'real'), path.join(share, 'inside'));
    const confinement = new GuestPathConfinement({ extraRoots: [share] });
    // Lexically inside; really /etc.
    expect(confinement.check('mount point', path.join(share, 'evil/ssl'), 'add')).toBe(path.join(share, 'evil/ssl'));
    for (const [use, p] of [
      ['mount point', path.join(share, 'evil/ssl')],
      ['mount point', path.join(share, 'evil/new/dir')],
      ['bind source', path.join(share, 'evil')],
      ['container bind source', path.join(share, 'evil/passwd')],
      ['container rootfs', path.join(share, 'evil')],
      ['swap', path.join(share, 'evil/swapfile')],
    ] as const) {
      const err = await rpcRejection(confinement.checkPath(use, p, 'op'));
      expect(err.code).toBe(Code.PERMISSION_DENIED);
      expect(err.message).toContain(`(resolves to /etc${p.slice(path.join(share, 'evil').length)} through a symlink)`);
    }
    expect(await confinement.checkPath('mount point', path.join(share, 'inside/x'), 'op')).toBe(path.join(share, 'inside/x'));

    // Through the storage manager: nothing is mounted over the real /etc/ssl.
    const calls: string[] = [];
    const recording: StorageDriver = { add: async (st) => (calls.push(st.mount_point), { mountPoint: st.mount_point, release: async () => undefined }) };
    const m = new StorageManager({ log, hotplugTimeoutMs: 1000, confinement, drivers: { ephemeral: recording, 'watchable-bind': recording } });
    const viaLink = await rpcRejection(m.add('c1', [storage({ driver: 'ephemeral', source: 'tmpfs', fstype: 'tmpfs', mount_point: path.join(share, 'evil/ssl') })]));
    expect(viaLink.code).toBe(Code.PERMISSION_DENIED);
    const bindLink = await rpcRejection(m.add('c1', [storage({ driver: 'watchable-bind', source: path.join(share, 'evil'), mount_point: path.join(share, 'real/etc') })]));
    expect(bindLink.code).toBe(Code.PERMISSION_DENIED);
    expect(calls).toEqual([]);
  });

  it('must be absolute, normalised directories other than /', () => {
    expect(checkExtraRoot('/mnt/data')).toBeUndefined();
    expect(checkExtraRoot('/')).toMatch(/every guest path/);
    expect(checkExtraRoot('mnt')).toMatch(/not an absolute path/);
    expect(checkExtraRoot('/mnt/../etc')).toMatch(/not normalised/);
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ allow_guest_roots: ['/'] }));
    expect(() => PolicyHolder.fromFile(file)).toThrow(/allow_guest_roots: "\/" would allow every guest path/);
  });

  it('cannot be added by SetPolicy (the host), which leaves the active policy as it was', () => {
    const holder = new PolicyHolder();
    expect(() => holder.replace(JSON.stringify({ allow_guest_roots: ['/etc'] }))).toThrow(/only taken from the image's policy file/);
    expect(holder.guestRoots).toEqual([]);
    expect(holder.active.document.allowGuestRoots).toBeUndefined();
  });
});

describe('CreateContainer bind sources', () => {
  const added: string[] = [];
  const storage_: StorageManagerApi = {
    add: async (owner, storages) => {
      added.push(...storages.map((s) => `${owner} ${s.mount_point}`));
      return storages.map((s) => s.mount_point);
    },
    release: async () => undefined,
    snapshot: () => [],
  };
  const containers = new ContainerManager({
    runtime: {} as OciRuntime,
    storage: storage_,
    log,
    sandbox: { current: () => ({}) as Sandbox },
    launchTimeoutMs: 1000,
    cgroupRoot: '/sys/fs/cgroup',
    oom: {} as OomEvents,
  });

  function request(extraMount?: Mount): CreateContainerRequest {
    const req = fixture('CreateContainer', 'create-container-blk.bin') as CreateContainerRequest;
    req.container_id = `confinement-test-${Math.random().toString(16).slice(2)}`;
    if (extraMount) req.OCI!.Mounts.push(extraMount);
    return req;
  }

  it.each([
    ['/etc', { destination: '/host-etc', source: '/etc', type: 'bind', options: ['rbind'] }],
    ['/ (with type none and option bind)', { destination: '/host', source: '/', type: 'none', options: ['bind'] }],
    ['/proc/1/root', { destination: '/init-root', source: '/proc/1/root', type: 'bind', options: ['rbind'] }],
    ['/proc/self/root', { destination: '/self-root', source: '/proc/self/root', type: 'bind', options: ['rbind'] }],
    ['.. out of the share', { destination: '/x', source: '/run/kata-containers/shared/containers/../../../../etc', type: 'bind', options: ['rbind'] }],
  ])('refuses a bind of %s before any storage is mounted', async (_name, mount) => {
    added.length = 0;
    const err = await rpcRejection(containers.create(request(mount)));
    expect(err.code).toBe(Code.PERMISSION_DENIED);
    expect(err.message).toMatch(/^create container confinement-test-[0-9a-f]+: guest path confinement: container bind source/);
    expect(added).toEqual([]);
  });

  it.each(['/', '/etc', '/run/kata-containers/../usr'])('refuses root.path %s before any storage is mounted', async (root) => {
    added.length = 0;
    const req = request();
    req.OCI!.Root!.Path = root;
    const err = await rpcRejection(containers.create(req));
    expect(err.code).toBe(Code.PERMISSION_DENIED);
    expect(err.message).toMatch(/: root\.path: guest path confinement: container rootfs/);
    expect(added).toEqual([]);
  });

  it("lets the Kata fixture's binds through (it stops later, at the rootfs this host lacks)", async () => {
    added.length = 0;
    const err = await rpcRejection(containers.create(request()));
    expect(err.code).not.toBe(Code.PERMISSION_DENIED);
    expect(added).toEqual([expect.stringMatching(new RegExp(`/run/kata-containers/shared/containers/${CID}$`))]);
  });
});

describe('GetVolumeStats, AddSwapPath and UpdateEphemeralMounts with the default roots', () => {
  // Called by name with partial requests, as the registry sees handlers.
  const handlers: Record<string, TypedHandler> = guestServiceHandlers({ log, config: DEFAULT_CONFIG, policy: new PolicyHolder(), rpcMetrics: new RpcMetrics(), recentLogs: undefined });
  const ctx = {} as Parameters<TypedHandler>[1];
  const refusal = async (method: string, req: Obj) => rpcRejection(Promise.resolve().then(() => handlers[method]!(req, ctx)));

  it.each(['/', '/etc/shadow', '/proc/1/root', '/run/kata-containers/../../etc/shadow'])('GetVolumeStats %s', async (p) => {
    const err = await refusal('GetVolumeStats', { volume_guest_path: p });
    expect(err.code).toBe(Code.PERMISSION_DENIED);
    expect(err.message).toContain('GetVolumeStats: guest path confinement: volume stats');
  });

  it.each(['/etc/passwd', '/swapfile', '/usr/bin/swap'])('AddSwapPath %s', async (p) => {
    const err = await refusal('AddSwapPath', { path: p });
    expect(err.code).toBe(Code.PERMISSION_DENIED);
    expect(err.message).toContain('AddSwapPath: guest path confinement: swap');
  });

  it('UpdateEphemeralMounts of a tmpfs outside the sandbox directory', async () => {
    const err = await refusal('UpdateEphemeralMounts', { storages: [{ driver: 'ephemeral', fstype: 'tmpfs', options: ['size=1k'], mount_point: '/dev/shm' }] });
    expect(err.code).toBe(Code.PERMISSION_DENIED);
  });

  it('still answers INVALID_ARGUMENT for a relative path, as before', async () => {
    expect((await refusal('GetVolumeStats', { volume_guest_path: 'rel' })).code).toBe(Code.INVALID_ARGUMENT);
    expect((await refusal('AddSwapPath', { path: 'swapfile' })).code).toBe(Code.INVALID_ARGUMENT);
  });
});
