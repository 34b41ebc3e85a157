// OCI hooks that live in the guest image (CreateSandbox.guest_hook_path), as Kata's agent finds
// them: every regular executable file in <path>/prestart, <path>/poststart and <path>/poststop
// becomes a hook of that kind, run by the OCI runtime with args [file name, hook kind] and the
// container state on stdin. Symlinks, directories and files without an execute bit are skipped;
// a missing kind directory means no hooks of that kind. Sorted by name, so order is stable.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Code, RpcError } from '../ttrpc/status';

export const GUEST_HOOK_KINDS = ['prestart', 'poststart', 'poststop'] as const;
export type GuestHookKind = (typeof GUEST_HOOK_KINDS)[number];

export interface OciHook {
  path: string;
  args: string[];
}

export type GuestHooks = Partial<Record<GuestHookKind, OciHook[]>>;

async function hooksOfKind(dir: string, kind: GuestHookKind): Promise<OciHook[]> {
  const kindDir = path.join(dir, kind);
  let entries;
  try {
    entries = await readdir(kindDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new RpcError(Code.INVALID_ARGUMENT, `read guest hooks in ${kindDir}: ${(err as Error).message}`);
  }
  const hooks: OciHook[] = [];
  for (const name of entries.filter((e) => e.isFile()).map((e) => e.name).sort()) {
    const file = path.join(kindDir, name);
    const { mode } = await stat(file);
    if ((mode & 0o111) === 0) continue;
    hooks.push({ path: file, args: [name, kind] });
  }
  return hooks;
}

/** The hooks under `dir`; only kinds that have at least one hook are present. */
export async function readGuestHooks(dir: string): Promise<GuestHooks> {
  if (!path.isAbsolute(dir)) throw new RpcError(Code.INVALID_ARGUMENT, `guest hook path "${dir}" is not absolute`);
  const hooks: GuestHooks = {};
  for (const kind of GUEST_HOOK_KINDS) {
    const found = await hooksOfKind(dir, kind);
    if (found.length > 0) hooks[kind] = found;
  }
  return hooks;
}
