// Which paths are mount points, from /proc/self/mountinfo: field 5 is the mount point, field 6
// the per-mount options, and after the "-" come fstype, source and superblock options.
// Spaces and other specials are octal-escaped (\040).
import { readFile } from 'node:fs/promises';

export interface MountInfo {
  mountPoint: string;
  fstype: string;
  source: string;
  /** Per-mount options (ro, nosuid, nodev, noexec, relatime ...). */
  options: string[];
  /** Filesystem options (size=..., mode=..., lowerdir=...). */
  superOptions: string[];
}

function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 3) continue;
    mounts.push({
      mountPoint: unescapeMountinfo(fields[4]!),
      options: fields[5]!.split(','),
      fstype: fields[dash + 1]!,
      source: unescapeMountinfo(fields[dash + 2]!),
      superOptions: (fields[dash + 3] ?? '').split(',').filter((o) => o !== ''),
    });
  }
  return mounts;
}

export async function readMounts(mountinfoPath = '/proc/self/mountinfo'): Promise<MountInfo[]> {
  return parseMountinfo(await readFile(mountinfoPath, 'utf8'));
}

/** The topmost mount at `target`, if any. */
export async function mountAt(target: string): Promise<MountInfo | undefined> {
  return (await readMounts()).filter((m) => m.mountPoint === target).pop();
}
