// agent.shared_fs_tag: the share a runtime fills without sending a storage for it (Kata's remote
// hypervisor type) is mounted by CreateSandbox beside the containers directory, and each
// container's rootfs is bound from it by CreateContainer, leaving the containers directory
// writable for the files the runtime copies there (CopyFile).
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../agent/src/config/config';
import { loadConfig } from '../../agent/src/config/load';
import { withShareRootfs, withSharedFs } from '../../agent/src/sandbox/shared-fs';
import type { Storage } from '../../agent/src/proto/messages.generated';

const shm: Storage = { driver: 'ephemeral', driver_options: [], source: 'shm', fstype: 'tmpfs', options: ['size=65536k'], mount_point: '/run/kata-containers/sandbox/shm', fs_group: null, shared: false };
const share: Storage = { driver: 'virtio-fs', driver_options: [], source: 'kataShared', fstype: 'virtiofs', options: [], mount_point: '/run/kata-containers/shared/virtiofs', fs_group: null, shared: false };

describe('agent.shared_fs_tag', () => {
  it('is off by default and read from the kernel command line', () => {
    expect(loadConfig({ cmdline: '', env: {} }).config.sharedFsTag).toBe('');
    expect(loadConfig({ cmdline: 'quiet agent.shared_fs_tag=kataShared', env: {} }).config.sharedFsTag).toBe('kataShared');
    expect(() => loadConfig({ cmdline: 'agent.shared_fs_tag=../x', env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ cmdline: 'agent.shared_fs_tag', env: {} })).toThrow(/needs a virtio-fs tag/);
  });

  it('CreateSandbox: the share goes first, beside the containers directory', () => {
    expect(withSharedFs([shm], 'kataShared')).toEqual([share, shm]);
  });

  it("CreateSandbox: leaves a runtime's own share alone, and does nothing when off", () => {
    const runtimeShare: Storage = { ...share, mount_point: '/run/kata-containers/shared/containers/' };
    expect(withSharedFs([runtimeShare, shm], 'kataShared')).toEqual([runtimeShare, shm]);
    expect(withSharedFs([shm], '')).toEqual([shm]);
    expect(withSharedFs([shm], undefined)).toEqual([shm]);
  });

  it("CreateContainer: binds the container's rootfs from the share into Kata's place", () => {
    expect(withShareRootfs([], 'c1', '/run/kata-containers/shared/containers/c1/rootfs', 'kataShared')).toEqual([
      { driver: 'watchable-bind', driver_options: [], source: '/run/kata-containers/shared/virtiofs/c1/rootfs', fstype: 'bind', options: [], mount_point: '/run/kata-containers/shared/containers/c1/rootfs', fs_group: null, shared: false },
    ]);
  });

  it('CreateContainer: nothing added when off, for a rootfs elsewhere, or when a storage of the request provides it', () => {
    const rootfs = '/run/kata-containers/shared/containers/c1/rootfs';
    expect(withShareRootfs([], 'c1', rootfs, '')).toEqual([]);
    expect(withShareRootfs([], 'c1', '/run/kata-containers/c1/rootfs', 'kataShared')).toEqual([]);
    const blk: Storage = { driver: 'blk', driver_options: [], source: '02/00', fstype: 'ext4', options: [], mount_point: '/run/kata-containers/shared/containers/c1', fs_group: null, shared: false };
    expect(withShareRootfs([blk], 'c1', rootfs, 'kataShared')).toEqual([blk]);
  });
});
