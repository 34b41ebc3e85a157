import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { silentProgress, type Progress } from '../progress/progress';
import { writeAtomically } from './atomic-file';
import { normalizeGuestPath } from './guest-path';
import { sourceDateEpoch } from './source-date-epoch';
import { TreeWriter } from './tree-writer';
import { walkTree } from './walk';

/** Writes a tree as a reproducible tarball: sorted, root-owned, one mtime. */
export async function exportTreeToTar(rootDir: string, output: string, options: { sourceDateEpoch?: number; progress?: Progress } = {}): Promise<{ entries: number }> {
  const mtime = new Date((options.sourceDateEpoch ?? sourceDateEpoch()) * 1000);
  const entries = await walkTree(rootDir);
  (options.progress ?? silentProgress)(`rootfs: export ${entries.length} entries -> ${output}`);
  await writeAtomically(output, async (temporaryPath) => {
    const pack = tar.pack();
    const written = pipeline(pack, createWriteStream(temporaryPath));
    for (const e of entries) {
      const header = { name: e.path, mode: e.mode, uid: 0, gid: 0, uname: 'root', gname: 'root', mtime };
      if (e.kind === 'dir') await addEntry(pack, { ...header, type: 'directory' });
      else if (e.kind === 'symlink') await addEntry(pack, { ...header, type: 'symlink', linkname: e.linkTarget ?? '' });
      else {
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry({ ...header, type: 'file', size: e.size }, (err) => (err ? reject(err) : resolve()));
          pipeline(createReadStream(e.hostPath), sink).catch(reject);
        });
      }
    }
    pack.finalize();
    await written;
  });
  return { entries: entries.length };
}

function addEntry(pack: tar.Pack, header: Parameters<tar.Pack['entry']>[0]): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, (err) => (err ? reject(err) : resolve())));
}

/**
 * Unpacks a tarball into an empty or new directory. Only files, directories and symlinks are
 * accepted, and no entry may land outside the directory (by "..", absolute names or via symlinks).
 */
export async function importTreeFromTar(input: string, rootDir: string, options: { progress?: Progress } = {}): Promise<{ entries: number }> {
  await mkdir(rootDir, { recursive: true });
  const tree = new TreeWriter(rootDir);
  const extract = tar.extract();
  let count = 0;
  const done = (async () => {
    for await (const entry of extract) {
      const { name, type, mode, linkname } = entry.header;
      try {
        const guestPath = normalizeGuestPath(name);
        if (guestPath === '') { entry.resume(); continue; }
        if (type === 'directory') { await tree.directory(guestPath, (mode ?? 0o755) & 0o7777); entry.resume(); }
        else if (type === 'symlink') { await tree.symlink(guestPath, linkname ?? ''); entry.resume(); }
        else if (type === 'file' || type === 'contiguous-file') await tree.writeStream(guestPath, entry as unknown as Readable, (mode ?? 0o644) & 0o7777);
        else throw new Error(`unsupported entry type ${type}`);
      } catch (e) {
        extract.destroy();
        throw new Error(`import ${input} entry ${name}: ${(e as Error).message}`);
      }
      count++;
    }
  })();
  await Promise.all([pipeline(createReadStream(input), extract), done]);
  (options.progress ?? silentProgress)(`rootfs: imported ${count} entries from ${input} -> ${rootDir}`);
  return { entries: count };
}
