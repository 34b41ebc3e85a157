// GetVolumeStats: statfs of a volume's guest path, as CSI VolumeUsage entries (bytes, inodes),
// with df's arithmetic: used = total - free, available = what unprivileged users may still use.
// statfs runs on a thread of its own: the volume may sit on a share whose server stalls.
import { statfs } from '../native/fs-stat';
import { Code, RpcError, statusFromError } from '../ttrpc/status';

export interface VolumeUsage {
  available: string;
  total: string;
  used: string;
  unit: 'BYTES' | 'INODES';
}

export async function volumeStats(guestPath: unknown): Promise<{ usage: VolumeUsage[]; volume_condition: { abnormal: boolean; message: string } }> {
  if (typeof guestPath !== 'string' || !guestPath.startsWith('/')) {
    throw new RpcError(Code.INVALID_ARGUMENT, `GetVolumeStats: volume path "${String(guestPath)}" is not absolute`);
  }
  let s;
  try {
    s = await statfs(guestPath);
  } catch (err) {
    // Its errno says whose fault it is (ENOENT, ENAMETOOLONG: the request's), as everywhere.
    const code = (err as NodeJS.ErrnoException).code;
    throw new RpcError(statusFromError(err).code, `GetVolumeStats: statfs ${guestPath}: ${code ?? (err as Error).message}`);
  }
  const total = s.blocks * s.bsize;
  return {
    usage: [
      { unit: 'BYTES', total: total.toString(), available: (s.bavail * s.bsize).toString(), used: ((s.blocks - s.bfree) * s.bsize).toString() },
      { unit: 'INODES', total: s.files.toString(), available: s.ffree.toString(), used: (s.files - s.ffree).toString() },
    ],
    volume_condition: { abnormal: false, message: '' },
  };
}
