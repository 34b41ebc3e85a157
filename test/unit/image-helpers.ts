// Shared fixtures for the image-builder tests: small real trees on disk, tool runners.
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `kata-img-test-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A small rootfs-like tree: dirs, files (one executable, one empty, one odd-sized), symlinks. */
export async function makeSampleTree(root: string, mtimeSeconds: number): Promise<void> {
  await mkdir(path.join(root, 'sbin'), { recursive: true });
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await mkdir(path.join(root, 'usr/lib/kata-agent'), { recursive: true });
  await mkdir(path.join(root, 'tmp'), { recursive: true });
  await chmod(path.join(root, 'tmp'), 0o1777);
  await writeFile(path.join(root, 'sbin/init'), '#!/bin/sh\necho hello\n');
  await chmod(path.join(root, 'sbin/init'), 0o755);
  await writeFile(path.join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
  await writeFile(path.join(root, 'etc/empty'), '');
  await writeFile(path.join(root, 'usr/lib/kata-agent/agent.js'), Buffer.alloc(70_001, 'x'));
  await symlink('sbin/init', path.join(root, 'init'));
  await symlink('../etc/hosts', path.join(root, 'usr/hosts-link'));
  for (const p of ['sbin/init', 'etc/hosts', 'etc/empty', 'usr/lib/kata-agent/agent.js', 'tmp', 'sbin', 'etc', 'usr/lib/kata-agent', 'usr/lib', 'usr', '.']) {
    await utimes(path.join(root, p), mtimeSeconds, mtimeSeconds);
  }
}

export function run(command: string, args: string[], options: { cwd?: string; input?: Buffer } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { cwd: options.cwd, input: options.input, maxBuffer: 256 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}
