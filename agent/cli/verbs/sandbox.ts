// sandbox create / destroy: the pod, as a Kata runtime opens and closes it.
import { SANDBOX_SHM, SHARED_CONTAINERS, SHARED_FS_TAG } from '../../src/paths';
import { type Command, parseCommandArgs, takePositionals, UsageError } from '../command';
import type { KernelModuleInit, StorageInit } from '../../src/proto/messages.generated';
import { parseJson } from '../inputs';

const DEFAULT_SHM_BYTES = 64 * 1024 * 1024;

/** The pod-wide share of container rootfs and volumes (Kata's shared_fs setting). */
function sharedFsStorage(kind: string): StorageInit | undefined {
  switch (kind) {
    case 'none':
      return undefined;
    case 'virtio-fs':
      return { driver: 'virtio-fs', source: SHARED_FS_TAG, fstype: 'virtiofs', mount_point: SHARED_CONTAINERS };
    case '9p':
      return { driver: '9p', source: SHARED_FS_TAG, fstype: '9p', options: ['nodev'], mount_point: SHARED_CONTAINERS };
    default:
      throw new UsageError(`sandbox create: --shared-fs is virtio-fs, 9p or none, not "${kind}"`);
  }
}

/** "IP" becomes a nameserver line; anything with a space is a resolv.conf line as it is. */
function dnsLine(value: string): string {
  return value.includes(' ') ? value : `nameserver ${value}`;
}

/** NAME or NAME:key=value,key=value (modprobe parameters). */
function kernelModule(value: string): KernelModuleInit {
  const colon = value.indexOf(':');
  const name = colon < 0 ? value : value.slice(0, colon);
  const params = colon < 0 ? '' : value.slice(colon + 1);
  if (!name) throw new UsageError(`sandbox create: --kernel-module "${value}" has no module name`);
  return { name, parameters: params ? params.split(',') : [] };
}

const create: Command = {
  words: ['sandbox', 'create'],
  synopsis: '[--id ID] [--hostname H] [--dns IP|LINE]... [--shared-fs virtio-fs|9p|none] [--shm-size BYTES] [--pidns] [--kernel-module NAME[:k=v,...]]... [--storage JSON]...',
  summary: 'CreateSandbox (a /dev/shm of 64 MiB by default; --shm-size 0 for none)',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      id: { type: 'string' },
      hostname: { type: 'string' },
      dns: { type: 'string', multiple: true },
      'shared-fs': { type: 'string' },
      'shm-size': { type: 'string' },
      pidns: { type: 'boolean' },
      'kernel-module': { type: 'string', multiple: true },
      storage: { type: 'string', multiple: true },
    });
    takePositionals(this, positionals, []);
    const storages: StorageInit[] = [];
    const shared = sharedFsStorage(values['shared-fs'] ?? 'none');
    if (shared) storages.push(shared);
    const shm = values['shm-size'] ?? String(DEFAULT_SHM_BYTES);
    if (!/^\d+$/.test(shm)) throw new UsageError(`sandbox create: --shm-size must be a byte count, not "${shm}"`);
    if (shm !== '0') {
      storages.push({ driver: 'ephemeral', source: 'shm', fstype: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'mode=1777', `size=${shm}`], mount_point: SANDBOX_SHM });
    }
    // --storage JSON is checked by encodeMessage, which names a bad field.
    for (const s of values.storage ?? []) storages.push(parseJson(s, 'storage') as StorageInit);
    await ctx.session.request('CreateSandbox', {
      hostname: values.hostname ?? '',
      dns: (values.dns ?? []).map(dnsLine),
      storages,
      sandbox_pidns: values.pidns === true,
      sandbox_id: values.id ?? '',
      kernel_modules: (values['kernel-module'] ?? []).map(kernelModule),
    });
    return 0;
  },
};

const destroy: Command = {
  words: ['sandbox', 'destroy'],
  synopsis: '',
  summary: 'DestroySandbox (in a VM the guest then powers off)',
  async run(ctx) {
    takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, []);
    await ctx.session.request('DestroySandbox', {});
    return 0;
  },
};

export const sandboxCommands: Command[] = [create, destroy];
