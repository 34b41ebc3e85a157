// agent.shared_fs_tag: the virtio-fs share a runtime shares container rootfs over without sending
// a storage for it (Kata's remote hypervisor type) is mounted by CreateSandbox.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../agent/src/config/config';
import { loadConfig } from '../../agent/src/config/load';
import { withSharedFs } from '../../agent/src/sandbox/lifecycle';
import type { StorageSpec } from '../../agent/src/storage/types';

const shm: StorageSpec = { driver: 'ephemeral', driver_options: [], source: 'shm', fstype: 'tmpfs', options: ['size=65536k'], mount_point: '/run/kata-containers/sandbox/shm', fs_group: null };

describe('agent.shared_fs_tag', () => {
  it('is off by default and read from the kernel command line', () => {
    expect(loadConfig({ cmdline: '', env: {} }).config.sharedFsTag).toBe('');
    expect(loadConfig({ cmdline: 'quiet agent.shared_fs_tag=kataShared', env: {} }).config.sharedFsTag).toBe('kataShared');
    expect(() => loadConfig({ cmdline: 'agent.shared_fs_tag=../x', env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ cmdline: 'agent.shared_fs_tag', env: {} })).toThrow(/needs a virtio-fs tag/);
  });

  it('puts the share first, mounted where Kata expects container rootfs, when the request has none', () => {
    expect(withSharedFs([shm], 'kataShared')).toEqual([
      { driver: 'virtio-fs', driver_options: [], source: 'kataShared', fstype: 'virtiofs', options: [], mount_point: '/run/kata-containers/shared/containers', fs_group: null },
      shm,
    ]);
  });

  it("leaves the runtime's own storage for the share alone, and does nothing when off", () => {
    const runtimeShare: StorageSpec = { ...shm, driver: 'virtio-fs', source: 'kataShared', fstype: 'virtiofs', options: [], mount_point: '/run/kata-containers/shared/containers/' };
    expect(withSharedFs([runtimeShare, shm], 'kataShared')).toEqual([runtimeShare, shm]);
    expect(withSharedFs([shm], '')).toEqual([shm]);
    expect(withSharedFs([shm], undefined)).toEqual([shm]);
  });
});
