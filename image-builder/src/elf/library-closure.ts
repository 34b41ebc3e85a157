import path from 'node:path';
import { readElfDynamicInfo } from './elf-dynamic';
import { lookupInTree, type TreeLookup } from './tree-lookup';

/** A directory tree that may provide libraries: a staged Debian package. */
export interface LibrarySource {
  name: string;
  root: string;
}

/** An ELF file whose needs must be met: either from a staged package or a host file (addons). */
export interface ElfRoot {
  label: string;
  hostPath: string;
  /** Guest path where it will live (for $ORIGIN). */
  guestPath: string;
  /** The package it came from: searched first. */
  source?: LibrarySource;
}

/** One file to copy from a staged package into the rootfs. */
export interface ClosureFile {
  source: LibrarySource;
  lookup: TreeLookup;
}

export interface LibraryClosure {
  files: ClosureFile[];
  /** For each root, the sonames it pulled in (direct and indirect), for reports. */
  perRoot: Map<string, string[]>;
}

/** glibc's default search path on Debian amd64, after DT_RUNPATH. */
const DEFAULT_LIBRARY_DIRS = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib64', 'usr/lib64', 'lib', 'usr/lib'];

/**
 * Follows PT_INTERP and DT_NEEDED transitively (as ld.so would, without running anything) and
 * returns the library files to copy. Sources are searched in the order given, after the root's own
 * package. A soname no source provides is an error naming it, the file that needs it and, as a
 * hint, the host package that ships it.
 */
export async function resolveLibraryClosure(
  roots: ElfRoot[],
  sources: LibrarySource[],
  hintPackage: (soname: string) => Promise<string | undefined> = async () => undefined,
): Promise<LibraryClosure> {
  const files = new Map<string, ClosureFile>();
  const perRoot = new Map<string, string[]>();
  for (const root of roots) {
    const sonames = new Set<string>();
    const queue: Array<{ label: string; hostPath: string; guestPath: string; source?: LibrarySource }> = [root];
    const seen = new Set<string>([root.hostPath]);
    while (queue.length) {
      const item = queue.shift()!;
      const info = await readElfDynamicInfo(item.hostPath);
      if (!info) continue;
      const order = item.source ? [item.source, ...sources.filter((s) => s !== item.source)] : sources;
      const wants: Array<{ name: string; candidates: string[] }> = [];
      if (info.interpreter) wants.push({ name: info.interpreter, candidates: [info.interpreter] });
      const origin = path.posix.dirname('/' + item.guestPath.replace(/^\/+/, ''));
      const runDirs = info.searchPaths.map((d) => d.replaceAll('$ORIGIN', origin).replaceAll('${ORIGIN}', origin));
      for (const soname of info.needed) {
        const candidates = soname.includes('/') ? [soname] : [...runDirs, ...DEFAULT_LIBRARY_DIRS].map((d) => `${d}/${soname}`);
        wants.push({ name: soname, candidates });
      }
      for (const want of wants) {
        const found = await findInSources(want.candidates, order);
        if (!found) {
          const host = await hintPackage(path.posix.basename(want.name));
          const hint = host ? `; on this host it comes from Debian package ${host}` : '';
          throw new Error(
            `resolve ${want.name} needed by ${item.label}: not found in the staged packages (${order.map((s) => s.name).join(', ')})` +
            `; add the package that ships it to rootfs/guest.json${hint}`,
          );
        }
        sonames.add(path.posix.basename(want.name));
        const key = `${found.source.name}:${found.lookup.file}`;
        if (!files.has(key)) files.set(key, found);
        else for (const link of found.lookup.symlinks) {
          const existing = files.get(key)!;
          if (!existing.lookup.symlinks.some((l) => l.path === link.path)) existing.lookup.symlinks.push(link);
        }
        const hostPath = path.join(found.source.root, found.lookup.file);
        if (!seen.has(hostPath)) {
          seen.add(hostPath);
          queue.push({ label: `${found.lookup.file} (${found.source.name})`, hostPath, guestPath: found.lookup.file, source: found.source });
        }
      }
    }
    perRoot.set(root.label, [...sonames].sort());
  }
  return { files: [...files.values()], perRoot };
}

async function findInSources(candidates: string[], sources: LibrarySource[]): Promise<ClosureFile | undefined> {
  for (const source of sources) {
    for (const candidate of candidates) {
      const lookup = await lookupInTree(source.root, candidate);
      if (lookup) return { source, lookup };
    }
  }
  return undefined;
}
