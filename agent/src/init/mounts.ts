// The filesystems a guest init mounts before anything else runs. Each entry is skipped when
// something is already mounted there (the kernel mounts /dev itself on a disk root).
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Logger } from '../log/logger';
import { mountSync, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RELATIME } from '../native';

export interface EarlyMount {
  source: string;
  target: string;
  fstype: string;
  flags: number;
  data?: string;
}

const NOSUID_NODEV_NOEXEC = MS_NOSUID | MS_NODEV | MS_NOEXEC;

export const EARLY_MOUNTS: readonly EarlyMount[] = [
  { source: 'proc', target: '/proc', fstype: 'proc', flags: NOSUID_NODEV_NOEXEC },
  { source: 'sysfs', target: '/sys', fstype: 'sysfs', flags: NOSUID_NODEV_NOEXEC },
  { source: 'dev', target: '/dev', fstype: 'devtmpfs', flags: MS_NOSUID, data: 'mode=0755' },
  { source: 'devpts', target: '/dev/pts', fstype: 'devpts', flags: MS_NOSUID | MS_NOEXEC, data: 'gid=5,mode=0620,ptmxmode=0666' },
  { source: 'shm', target: '/dev/shm', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV, data: 'mode=1777' },
  { source: 'tmpfs', target: '/run', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV, data: 'mode=0755' },
  { source: 'tmpfs', target: '/tmp', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV, data: 'mode=1777' },
  { source: 'cgroup2', target: '/sys/fs/cgroup', fstype: 'cgroup2', flags: NOSUID_NODEV_NOEXEC | MS_RELATIME, data: 'nsdelegate' },
];

/** Controllers handed down to container cgroups. */
export const CGROUP_CONTROLLERS = ['cpu', 'cpuset', 'io', 'memory', 'pids'];

export function mountedTargets(): Set<string> {
  try {
    const text = readFileSync('/proc/self/mountinfo', 'utf8');
    return new Set(text.split('\n').filter(Boolean).map((line) => line.split(' ')[4]!.replace(/\\040/g, ' ')));
  } catch {
    return new Set(); // /proc not mounted yet
  }
}

export function mountEarlyFilesystems(log: Logger, mounts: readonly EarlyMount[] = EARLY_MOUNTS): void {
  // Read once, and again once /proc is there: then what the kernel mounted itself (/dev on a
  // disk root) shows.
  let mounted = mountedTargets();
  for (const m of mounts) {
    if (mounted.has(m.target)) {
      log.debug('already mounted', { target: m.target });
      continue;
    }
    mkdirSync(m.target, { recursive: true });
    try {
      // Synchronous: PID 1 mounts these before anything listens, and pseudo filesystems cannot stall.
      mountSync(m.source, m.target, m.fstype, m.flags, m.data ?? null);
      log.debug('mounted', { target: m.target, fstype: m.fstype });
      mounted = m.fstype === 'proc' ? mountedTargets() : mounted.add(m.target);
    } catch (err) {
      // A missing filesystem type must not stop the agent: report it and go on.
      log.error('early mount failed', { target: m.target, fstype: m.fstype, error: err });
    }
  }
  try {
    symlinkSync('pts/ptmx', '/dev/ptmx');
  } catch {
    // devtmpfs usually provides /dev/ptmx already
  }
}

export function enableCgroupControllers(log: Logger, root = '/sys/fs/cgroup'): void {
  let available: string[];
  try {
    available = readFileSync(`${root}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch (err) {
    return void log.warn('cgroup2 not available', { error: err });
  }
  const wanted = CGROUP_CONTROLLERS.filter((c) => available.includes(c));
  try {
    writeFileSync(`${root}/cgroup.subtree_control`, wanted.map((c) => `+${c}`).join(' '));
    log.debug('cgroup controllers enabled', { controllers: wanted });
  } catch (err) {
    log.warn('cannot enable cgroup controllers', { controllers: wanted, error: err });
  }
}
