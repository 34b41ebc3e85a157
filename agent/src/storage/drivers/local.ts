// Local volumes: a plain directory in the guest (Kubernetes emptyDir on the guest's disk), with
// "mode=0777" and "fsgid=N" options and fs_group applied. Nothing is mounted.
import { chmod, rm } from 'node:fs/promises';
import type { StorageDriver } from '../driver';
import { invalidStorage, storageError } from '../errors';
import { applyFsGroup } from '../fs-group';
import { parseMountOptions, optionValue } from '../mount-options';
import { makeDirectory, removeCreatedDirectories } from '../mount-point';
import { giveDirectoryToGroup } from './group-owned-dir';
import path from 'node:path';

export const localDriver: StorageDriver = {
  async add(storage, ctx) {
    const dir = storage.mount_point;
    const what = `create local volume ${dir}`;
    let fsGid: number | undefined;
    let mode: number | undefined;
    try {
      fsGid = parseMountOptions(storage.options).fsGid;
      const modeText = optionValue(storage.options, 'mode');
      if (modeText !== undefined) {
        if (!/^[0-7]{1,4}$/.test(modeText)) throw new Error(`mode "${modeText}" is not octal`);
        mode = parseInt(modeText, 8);
      }
    } catch (err) {
      throw invalidStorage(`${what}: ${(err as Error).message}`);
    }
    const created = await makeDirectory(dir);
    // The volume's contents go with its last user, but only if this storage made the directory.
    const remove = async (): Promise<void> => {
      if (created === undefined) return;
      await rm(dir, { recursive: true, force: true });
      await removeCreatedDirectories(path.dirname(dir), created === dir ? undefined : created);
    };
    try {
      if (fsGid !== undefined) await giveDirectoryToGroup(dir, fsGid);
      if (mode !== undefined) {
        try {
          // chmod after chown: chown clears setgid, and mode plus setgid is what Kata leaves.
          await chmod(dir, mode | (fsGid !== undefined ? 0o2000 : 0));
        } catch (err) {
          throw storageError(`${what}: chmod ${mode.toString(8)}`, err);
        }
      }
      if (storage.fs_group) await applyFsGroup(dir, storage.fs_group, false);
    } catch (err) {
      await remove();
      throw err;
    }
    ctx.log.info('local volume ready', { mountPoint: dir, mode: mode?.toString(8), fsGid });
    return { mountPoint: dir, release: remove };
  },
};
