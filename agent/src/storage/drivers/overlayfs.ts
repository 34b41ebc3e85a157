// overlayfs from lowerdir/upperdir/workdir options. Kata's "io.katacontainers.fs-opt.overlay-rw"
// asks for a writable layer the agent provides: upper/ and work/ in the container's state dir.
import path from 'node:path';
import { containerStateDir, isValidId } from '../../paths';
import type { StorageDriver } from '../driver';
import { invalidStorage } from '../errors';
import { hasOption, optionValue } from '../mount-options';
import { makeDirectory } from '../mount-point';
import { mountStorage } from '../mount-storage';

const RW_LAYER_OPTION = 'io.katacontainers.fs-opt.overlay-rw';

export const overlayfsDriver: StorageDriver = {
  async add(storage, ctx) {
    const what = `mount overlayfs at ${storage.mount_point}`;
    const options = [...storage.options];
    if (hasOption(options, RW_LAYER_OPTION)) {
      if (!isValidId(ctx.owner)) throw invalidStorage(`${what}: a writable layer needs a container id, not "${ctx.owner}"`);
      const base = containerStateDir(ctx.owner);
      options.push(`upperdir=${path.join(base, 'upper')}`, `workdir=${path.join(base, 'work')}`);
    }
    if (optionValue(options, 'lowerdir') === undefined) throw invalidStorage(`${what}: no lowerdir option`);
    // overlayfs needs upper and work to exist (on the same filesystem).
    for (const key of ['upperdir', 'workdir']) {
      const dir = optionValue(options, key);
      if (dir === undefined) continue;
      if (!dir.startsWith('/') || dir.split('/').includes('..')) throw invalidStorage(`${what}: ${key} "${dir}" must be absolute without ".."`);
      await makeDirectory(dir);
    }
    return mountStorage(
      { driver: 'overlayfs', source: storage.source || 'overlay', fstype: 'overlay', options, mountPoint: storage.mount_point, fsGroup: storage.fs_group },
      ctx.log,
      ctx.signal,
    );
  },
};
