// Kata / mount(8)-style option lists ("ro", "nodev", "bind", "size=64m", "mode=1777") split into
// mount(2) flags, propagation changes (which need their own mount call) and filesystem data.
import {
  MS_BIND,
  MS_DIRSYNC,
  MS_LAZYTIME,
  MS_MANDLOCK,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_NOSYMFOLLOW,
  MS_PRIVATE,
  MS_REC,
  MS_RELATIME,
  MS_REMOUNT,
  MS_RDONLY,
  MS_SHARED,
  MS_SILENT,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE,
} from '../native/constants';

export interface MountOptions {
  /** mount(2) flags for the mount itself. */
  flags: number;
  /** Propagation flags (MS_PRIVATE etc., possibly | MS_REC), each applied by a separate call. */
  propagation: number[];
  /** Comma-joined filesystem-specific options, or "" for none. */
  data: string;
  /** Kata's "fsgid=N" option (not a mount option: the group applied to the mount point). */
  fsGid?: number;
}

const FLAG_OPTIONS: Record<string, { set?: number; clear?: number }> = {
  ro: { set: MS_RDONLY },
  rw: { clear: MS_RDONLY },
  nosuid: { set: MS_NOSUID },
  suid: { clear: MS_NOSUID },
  nodev: { set: MS_NODEV },
  dev: { clear: MS_NODEV },
  noexec: { set: MS_NOEXEC },
  exec: { clear: MS_NOEXEC },
  sync: { set: MS_SYNCHRONOUS },
  async: { clear: MS_SYNCHRONOUS },
  dirsync: { set: MS_DIRSYNC },
  remount: { set: MS_REMOUNT },
  mand: { set: MS_MANDLOCK },
  nomand: { clear: MS_MANDLOCK },
  noatime: { set: MS_NOATIME },
  atime: { clear: MS_NOATIME },
  nodiratime: { set: MS_NODIRATIME },
  diratime: { clear: MS_NODIRATIME },
  relatime: { set: MS_RELATIME },
  norelatime: { clear: MS_RELATIME },
  strictatime: { set: MS_STRICTATIME },
  nostrictatime: { clear: MS_STRICTATIME },
  lazytime: { set: MS_LAZYTIME },
  nolazytime: { clear: MS_LAZYTIME },
  nosymfollow: { set: MS_NOSYMFOLLOW },
  symfollow: { clear: MS_NOSYMFOLLOW },
  silent: { set: MS_SILENT },
  loud: { clear: MS_SILENT },
  bind: { set: MS_BIND },
  rbind: { set: MS_BIND | MS_REC },
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS_PRIVATE,
  rprivate: MS_PRIVATE | MS_REC,
  shared: MS_SHARED,
  rshared: MS_SHARED | MS_REC,
  slave: MS_SLAVE,
  rslave: MS_SLAVE | MS_REC,
  unbindable: MS_UNBINDABLE,
  runbindable: MS_UNBINDABLE | MS_REC,
};

// Options only fstab/mount(8) or the Kata runtime interpret; the kernel must not see them.
const USERSPACE_ONLY = new Set(['defaults', 'auto', 'noauto', 'nofail', '_netdev', 'user', 'nouser', 'users', 'owner', 'group']);

/** Splits "a,b=\"x,y\",c" on commas outside double quotes. */
export function splitOptionString(option: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of option) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

export function parseMountOptions(options: readonly string[] | undefined): MountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let fsGid: number | undefined;
  for (const option of (options ?? []).flatMap(splitOptionString)) {
    const flag = FLAG_OPTIONS[option];
    if (flag) {
      flags = (flags | (flag.set ?? 0)) & ~(flag.clear ?? 0);
      continue;
    }
    const prop = PROPAGATION_OPTIONS[option];
    if (prop !== undefined) {
      propagation.push(prop);
      continue;
    }
    if (USERSPACE_ONLY.has(option) || option.startsWith('x-') || option.startsWith('io.katacontainers.')) continue;
    if (option.startsWith('fsgid=')) {
      const gid = Number(option.slice('fsgid='.length));
      if (!Number.isInteger(gid) || gid < 0) throw new Error(`bad fsgid option "${option}"`);
      fsGid = gid;
      continue;
    }
    data.push(option);
  }
  return { flags, propagation, data: data.join(','), fsGid };
}

/** The value of "key=value" among the options (last one wins), or undefined. */
export function optionValue(options: readonly string[] | undefined, key: string): string | undefined {
  let value: string | undefined;
  for (const option of (options ?? []).flatMap(splitOptionString)) {
    if (option.startsWith(`${key}=`)) value = option.slice(key.length + 1);
  }
  return value;
}

export function hasOption(options: readonly string[] | undefined, name: string): boolean {
  return (options ?? []).flatMap(splitOptionString).includes(name);
}
