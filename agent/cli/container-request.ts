// The CreateContainerRequest of `container create` and `run`: the OCI spec from a bundle's
// config.json (or a default one), the command line and terminal overrides, and the rootfs
// as storages + spec root.path.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type CtlIo, UsageError } from './command';
import type { CreateContainerRequestInit, SpecInit, StorageInit } from '../src/proto/messages.generated';
import { parseJson } from './inputs';
import { defaultSpec, ociJsonToSpec, parseOciJson } from './oci-spec';
import { planRootfs, ROOTFS_OPTIONS, ROOTFS_SYNOPSIS, type RootfsOptions } from './rootfs';

export const CREATE_OPTIONS = {
  bundle: { type: 'string' },
  tty: { type: 'boolean', short: 't' },
  env: { type: 'string', multiple: true, short: 'e' },
  cwd: { type: 'string' },
  pidns: { type: 'boolean' },
  storage: { type: 'string', multiple: true },
  ...ROOTFS_OPTIONS,
} as const;

/** The options; the usage line ends with COMMAND_SYNOPSIS. */
export const CREATE_SYNOPSIS = `[--bundle DIR] ${ROOTFS_SYNOPSIS} [--tty] [--env K=V]... [--cwd DIR] [--pidns] [--storage JSON]...`;
export const COMMAND_SYNOPSIS = '[-- CMD ARGS...]';

export interface CreateOptions extends RootfsOptions {
  bundle?: string;
  tty?: boolean;
  env?: string[];
  cwd?: string;
  pidns?: boolean;
  storage?: string[];
}

function readBundleSpec(bundle: string, io: CtlIo): SpecInit {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`read OCI spec ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = parseOciJson(text);
  } catch (err) {
    throw new UsageError(`bad JSON in ${file}: ${(err as Error).message}`);
  }
  let converted;
  try {
    converted = ociJsonToSpec(json);
  } catch (err) {
    throw new UsageError(`OCI spec ${file}: ${(err as Error).message}`);
  }
  const { spec, dropped } = converted;
  // Kata's grpc.Spec has no field for these; the runtime leaves them out the same way.
  if (dropped.length > 0) io.stderr(`agent-ctl: ${file}: not carried by Kata's grpc.Spec, left out: ${dropped.join(', ')}\n`);
  return spec;
}

export function buildCreateRequest(containerId: string, opts: CreateOptions, command: string[] | undefined, io: CtlIo): CreateContainerRequestInit {
  let spec: SpecInit;
  let bundleRoot: string | undefined;
  if (opts.bundle) {
    spec = readBundleSpec(opts.bundle, io);
    const root = spec.Root;
    bundleRoot = path.resolve(opts.bundle, typeof root?.Path === 'string' && root.Path ? root.Path : 'rootfs');
  } else {
    if (!command?.length) throw new UsageError('without --bundle, give the command to run after "--"');
    spec = defaultSpec({ args: command });
  }
  const proc = { ...spec.Process };
  if (command?.length) proc.Args = command;
  if (opts.tty !== undefined) proc.Terminal = opts.tty;
  if (opts.env?.length) proc.Env = [...(proc.Env ?? []), ...opts.env];
  if (opts.cwd) proc.Cwd = opts.cwd;
  if (!proc.Args?.length) throw new UsageError('the container has no command: config.json process.args is empty and none was given after "--"');
  spec.Process = proc;
  const rootfs = planRootfs(containerId, opts, bundleRoot);
  spec.Root = { ...spec.Root, Path: rootfs.rootPath };
  // --storage JSON is checked by encodeMessage, which names a bad field.
  const storages = [...rootfs.storages, ...(opts.storage ?? []).map((s) => parseJson(s, 'storage') as StorageInit)];
  return { container_id: containerId, exec_id: containerId, OCI: spec, storages, sandbox_pidns: opts.pidns === true };
}
