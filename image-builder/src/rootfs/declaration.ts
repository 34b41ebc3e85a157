import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DebianPackageRef } from '../debian/package-ref';

/** rootfs/guest.json: what the guest holds, as data. */
export interface RootfsDeclaration {
  packages: Array<DebianPackageRef & { binaries?: string[] }>;
  agent: {
    guestDir: string;
    files: Array<{ from: string; to: string; optional?: boolean }>;
    /** A V8 startup snapshot of the agent, built by the guest's node (`node`, a guest path). */
    snapshot?: { from: string; to: string; node: string };
  };
  directories: Array<{ path: string; mode: string }>;
  files: Array<{ path: string; from: string; mode: string }>;
  links: Array<{ path: string; target: string }>;
  inits: Record<string, string>;
  /** Strip symbols from the declared binaries and agent addons (not from Debian's libraries, already stripped). */
  strip?: boolean;
}

export interface LoadedDeclaration extends RootfsDeclaration {
  /** Directory that relative `from` paths are resolved against. */
  baseDir: string;
  file: string;
}

/** Reads and checks a declaration; every problem names the field at fault. */
export async function loadDeclaration(file: string): Promise<LoadedDeclaration> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`read rootfs declaration ${file}: ${e.code ?? e.message}`);
  });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`parse rootfs declaration ${file}: ${(e as Error).message}`);
  }
  const d = raw as Partial<RootfsDeclaration>;
  const fail = (what: string): never => { throw new Error(`rootfs declaration ${file}: ${what}`); };
  if (!Array.isArray(d.packages)) fail('"packages" must be a list');
  for (const [i, p] of d.packages!.entries()) {
    if (typeof p?.name !== 'string' || typeof p.version !== 'string') fail(`packages[${i}] needs "name" and "version"`);
    if (p.binaries !== undefined && !isStringList(p.binaries)) fail(`packages[${i}].binaries must be a list of paths`);
  }
  if (typeof d.agent?.guestDir !== 'string' || !Array.isArray(d.agent.files)) fail('"agent" needs "guestDir" and "files"');
  const snap = d.agent!.snapshot;
  if (snap !== undefined && (typeof snap?.from !== 'string' || typeof snap.to !== 'string' || typeof snap.node !== 'string')) {
    fail('"agent.snapshot" needs "from", "to" and "node"');
  }
  for (const [key, list] of [['directories', d.directories], ['files', d.files], ['links', d.links]] as const) {
    if (!Array.isArray(list)) fail(`"${key}" must be a list`);
  }
  for (const entry of [...d.directories!, ...d.files!]) {
    if (!/^[0-7]{3,4}$/.test(entry.mode)) fail(`mode ${JSON.stringify(entry.mode)} of ${entry.path} is not octal`);
  }
  if (typeof d.inits !== 'object' || d.inits === null) fail('"inits" must map init names to programs (a script or an executable)');
  return { ...(d as RootfsDeclaration), baseDir: path.dirname(path.resolve(file)), file };
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}
