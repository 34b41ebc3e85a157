// UpdateEphemeralMounts: the runtime changed a pod's memory-backed volume (e.g. its sizeLimit)
// and sends the ephemeral storages again; each must already be a tmpfs mount here and is
// remounted in place with the new options (size=, mode=, nr_inodes= ...), keeping its files.
import { MS_REMOUNT } from '../native/constants';
import { mount } from '../native/mount';
import type { Storage } from '../proto/messages.generated';
import { parseMountOptions } from '../storage/mount-options';
import { Code, RpcError } from '../ttrpc/status';
import { readMountTable } from './mount-table';

/** What a remount reads of a grpc.Storage. */
export type EphemeralStorage = Pick<Storage, 'driver' | 'mount_point'> & Partial<Pick<Storage, 'fstype' | 'options'>>;

export interface Remount {
  mountPoint: string;
  flags: number;
  data: string;
}

/** Checks every storage first, so that a bad one in the list changes nothing. */
export function planEphemeralRemounts(storages: readonly EphemeralStorage[], mountinfo?: string): Remount[] {
  const table = readMountTable(mountinfo);
  return storages.map((s, i) => {
    const what = `UpdateEphemeralMounts: storage ${i} (${s.mount_point || 'no mount point'})`;
    if (s.driver !== 'ephemeral') throw new RpcError(Code.INVALID_ARGUMENT, `${what}: driver "${s.driver}" is not "ephemeral"`);
    if (s.fstype && s.fstype !== 'tmpfs') throw new RpcError(Code.INVALID_ARGUMENT, `${what}: fstype "${s.fstype}" is not tmpfs`);
    if (!s.mount_point.startsWith('/')) throw new RpcError(Code.INVALID_ARGUMENT, `${what}: mount point is not absolute`);
    const top = table.filter((m) => m.mountPoint === s.mount_point).pop();
    if (!top || top.fstype !== 'tmpfs') {
      throw new RpcError(Code.FAILED_PRECONDITION, `${what}: ${s.mount_point} is not a tmpfs mount (${top ? top.fstype : 'not mounted'})`);
    }
    let parsed;
    try {
      parsed = parseMountOptions(s.options ?? []);
    } catch (err) {
      throw new RpcError(Code.INVALID_ARGUMENT, `${what}: ${(err as Error).message}`);
    }
    return { mountPoint: s.mount_point, flags: parsed.flags | MS_REMOUNT, data: parsed.data };
  });
}

export async function updateEphemeralMounts(storages: readonly EphemeralStorage[], mountinfo?: string): Promise<Remount[]> {
  const plan = planEphemeralRemounts(storages, mountinfo);
  for (const r of plan) {
    try {
      await mount('tmpfs', r.mountPoint, 'tmpfs', r.flags, r.data || null);
    } catch (err) {
      throw Object.assign(new Error(`UpdateEphemeralMounts: remount tmpfs at ${r.mountPoint} with "${r.data}": ${(err as Error).message}`), {
        code: (err as NodeJS.ErrnoException).code,
      });
    }
  }
  return plan;
}
