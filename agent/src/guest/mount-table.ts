// The few /proc/self/mountinfo fields the guest services need, including the mount's root
// within its filesystem (field 4), which shows "//deleted" once a bind mount's source is gone.
import { readFileSync } from 'node:fs';

export interface MountEntry {
  /** Path inside the source filesystem that is mounted (field 4). */
  root: string;
  mountPoint: string;
  fstype: string;
  source: string;
  superOptions: string;
}

function unescape(field: string): string {
  return field.indexOf('\\') < 0 ? field : field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountTable(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0 || f.length < dash + 3) continue;
    out.push({ root: unescape(f[3]!), mountPoint: unescape(f[4]!), fstype: f[dash + 1]!, source: unescape(f[dash + 2]!), superOptions: f[dash + 3] ?? '' });
  }
  return out;
}

export function readMountTable(mountinfo = '/proc/self/mountinfo'): MountEntry[] {
  return parseMountTable(readFileSync(mountinfo, 'utf8'));
}
