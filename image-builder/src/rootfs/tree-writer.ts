import { createWriteStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readFile, readlink, stat, symlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { resolveInsideRoot } from './guest-path';

/**
 * Places files into a rootfs tree under construction. Every guest path is checked to stay inside
 * the root, and placing two different things at one path is an error rather than a silent overwrite.
 */
export class TreeWriter {
  constructor(readonly root: string) {}

  async directory(guestPath: string, mode: number): Promise<void> {
    const target = resolveInsideRoot(this.root, guestPath);
    await this.ensureParent(target);
    await mkdir(target, { recursive: true });
    await chmod(target, mode);
  }

  /** Copies a host file; its mode is kept unless one is given. */
  async copyFile(guestPath: string, hostPath: string, mode?: number): Promise<void> {
    const target = resolveInsideRoot(this.root, guestPath);
    const st = await stat(hostPath).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`copy ${hostPath} to ${guestPath}: ${e.code === 'ENOENT' ? 'missing (ENOENT)' : e.code ?? e.message}`);
    });
    if (!st.isFile()) throw new Error(`copy ${hostPath} to ${guestPath}: not a regular file`);
    if (await this.exists(target)) {
      if (await sameContent(target, hostPath)) return;
      throw new Error(`copy ${hostPath} to ${guestPath}: a different file is already there`);
    }
    await this.ensureParent(target);
    await copyFile(hostPath, target).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`copy ${hostPath} to ${guestPath}: ${e.code ?? e.message}`);
    });
    await chmod(target, mode ?? st.mode & 0o7777);
  }

  /** Writes a new file from a stream (tar import); the path must not exist yet. */
  async writeStream(guestPath: string, source: Readable, mode: number): Promise<void> {
    const target = resolveInsideRoot(this.root, guestPath);
    if (await this.exists(target)) throw new Error(`write ${guestPath}: already exists in the tree`);
    await this.ensureParent(target);
    await pipeline(source, createWriteStream(target, { flags: 'wx' }));
    await chmod(target, mode);
  }

  async symlink(guestPath: string, linkTarget: string): Promise<void> {
    const target = resolveInsideRoot(this.root, guestPath);
    if (await this.exists(target)) {
      const existing = await readlink(target).catch(() => undefined);
      if (existing === linkTarget) return;
      throw new Error(`link ${guestPath} -> ${linkTarget}: something else is already there`);
    }
    await this.ensureParent(target);
    await symlink(linkTarget, target);
  }

  /**
   * Creates missing parent directories, refusing to go through a symlink already in the tree:
   * an absolute link target would otherwise lead the write onto the host's own filesystem.
   */
  private async ensureParent(target: string): Promise<void> {
    const parts = path.relative(path.resolve(this.root), path.dirname(target)).split(path.sep).filter(Boolean);
    let current = path.resolve(this.root);
    for (const part of parts) {
      current = path.join(current, part);
      const st = await lstat(current).catch(() => undefined);
      if (!st) await mkdir(current, { mode: 0o755 });
      else if (!st.isDirectory()) {
        throw new Error(`place ${path.relative(this.root, target)} in rootfs: ${path.relative(this.root, current)} is not a directory (a symlink?)`);
      }
    }
  }

  private async exists(target: string): Promise<boolean> {
    return lstat(target).then(() => true, () => false);
  }
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  if (sa.size !== sb.size) return false;
  return (await readFile(a)).equals(await readFile(b));
}
