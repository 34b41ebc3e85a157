// grpc.Spec / grpc.Process objects (proto field names) the way a Kata runtime fills them.
import { SHARED_CONTAINERS } from '../../agent/src/paths';

type Obj = Record<string, unknown>;

export const ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

export function processSpec(args: string[], opts: { terminal?: boolean; env?: string[] } = {}): Obj {
  return { Terminal: opts.terminal ?? false, Args: args, Env: opts.env ?? ENV, Cwd: '/', User: { UID: 0, GID: 0 } };
}

export function containerSpec(containerId: string, args: string[], opts: { terminal?: boolean; hostname?: string } = {}): Obj {
  return {
    Version: '1.0.2',
    Process: processSpec(args, opts),
    Root: { Path: `${SHARED_CONTAINERS}/${containerId}/rootfs`, Readonly: false },
    Hostname: opts.hostname ?? '',
    Mounts: [
      { destination: '/proc', source: 'proc', type: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', source: 'tmpfs', type: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', source: 'devpts', type: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/sys', source: 'sysfs', type: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/dev/shm', source: '/run/kata-containers/sandbox/shm', type: 'bind', options: ['rbind', 'rprivate', 'rw'] },
    ],
    Linux: {
      Namespaces: [{ Type: 'pid' }, { Type: 'ipc' }, { Type: 'uts' }, { Type: 'mount' }, { Type: 'network', Path: '/var/run/netns/host-only' }],
      CgroupsPath: `/kubepods/${containerId}`,
    },
  };
}

export function sandboxRequest(opts: { hostname?: string; dns?: string[]; pidns?: boolean } = {}): Obj {
  return {
    hostname: opts.hostname ?? 'pod-test',
    dns: opts.dns ?? ['nameserver 10.96.0.10', 'search default.svc.cluster.local'],
    storages: [
      { driver: 'virtio-fs', source: 'kataShared', fstype: 'virtiofs', mount_point: `${SHARED_CONTAINERS}/` },
      { driver: 'ephemeral', source: 'shm', fstype: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'mode=1777', 'size=67108864'], mount_point: '/run/kata-containers/sandbox/shm' },
    ],
    sandbox_pidns: opts.pidns ?? false,
    sandbox_id: 'sandbox-test',
  };
}
