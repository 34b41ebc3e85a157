// The cgroup controllers init enables for containers: once, whichever comes first of "after
// ready" and the first CreateContainer.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupControllersOnce } from '../../agent/src/init/pid1';
import { Logger, type LogSink } from '../../agent/src/log/logger';
import { tempDir } from '../helpers/agent-process';

describe('cgroupControllersOnce', () => {
  it('enables the controllers the kernel offers that containers use, and only on the first call', () => {
    const root = tempDir('cgroup-');
    writeFileSync(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
    writeFileSync(path.join(root, 'cgroup.subtree_control'), '');
    const lines: string[] = [];
    const sink: LogSink = { write: (line) => void lines.push(line) };
    const prepare = cgroupControllersOnce(Logger.create('debug', [sink]), root);

    prepare();
    expect(readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8')).toBe('+cpu +cpuset +io +memory +pids');
    expect(lines.some((l) => l.includes('cgroup controllers enabled'))).toBe(true);

    writeFileSync(path.join(root, 'cgroup.subtree_control'), 'left alone');
    prepare();
    expect(readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8')).toBe('left alone');
  });

  it('warns instead of throwing when there is no cgroup2 tree', () => {
    const lines: string[] = [];
    const prepare = cgroupControllersOnce(Logger.create('info', [{ write: (l) => void lines.push(l) }]), path.join(tempDir('cgroup-'), 'none'));
    expect(() => prepare()).not.toThrow();
    expect(lines.some((l) => l.includes('cgroup2 not available'))).toBe(true);
  });
});
