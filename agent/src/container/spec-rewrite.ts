// What the guest changes in the OCI spec the host sent before crun sees it (kata-wire.md,
// "OCI spec rewrite"): the host's hooks and namespace paths mean nothing in the VM.
import { SANDBOX_SHM } from '../paths';
import type { OciJson } from './oci-json';

export interface SandboxNamespaces {
  /** /proc/<holder>/ns/ipc and .../uts of the pod's namespace holder. */
  ipc?: string;
  uts?: string;
  /** The pid namespace to join when the pod shares one (sandbox_pidns); absent = a new one. */
  pid?: string;
}

export interface SpecRewriteContext {
  containerId: string;
  rootfs: string;
  namespaces: SandboxNamespaces;
  /** The sandbox's /dev/shm (an ephemeral storage) when it is mounted. */
  sandboxShm?: string;
  /** The pod's resolv.conf written from CreateSandbox.dns, if any. */
  resolvConf?: string;
  /**
   * False drops the seccomp profile, as Kata's agent does when built without seccomp support
   * (the runtime's disable_guest_seccomp has the same effect from the host side).
   */
  applySeccomp?: boolean;
  /** Hooks from the guest image (CreateSandbox.guest_hook_path); they replace the host's. */
  guestHooks?: OciJson;
}

// Namespaces the host may name by path: none of its paths exist in the guest.
const HOST_ONLY_PATHS = new Set(['network', 'cgroup', 'time']);

export function rewriteSpec(spec: OciJson, ctx: SpecRewriteContext): OciJson {
  const out: OciJson = { ...spec };
  out.ociVersion ??= '1.0.2';
  // Hooks from the host would run host binaries; guest hooks come from guest_hook_path.
  delete out.hooks;
  if (ctx.guestHooks && Object.keys(ctx.guestHooks).length > 0) out.hooks = structuredClone(ctx.guestHooks);
  out.root = { ...(spec.root ?? {}), path: ctx.rootfs };

  const linux: OciJson = { ...(spec.linux ?? {}) };
  const namespaces: OciJson[] = [];
  for (const ns of (linux.namespaces ?? []) as OciJson[]) {
    const type = String(ns.type);
    // The guest network namespace is the pod's: no entry means "share the agent's".
    if (type === 'network') continue;
    if (HOST_ONLY_PATHS.has(type)) {
      namespaces.push({ type });
      continue;
    }
    if (type === 'ipc' || type === 'uts') continue; // re-added below
    if (type === 'pid') continue;
    namespaces.push(ns.path ? { type, path: ns.path } : { type });
  }
  namespaces.push(ctx.namespaces.ipc ? { type: 'ipc', path: ctx.namespaces.ipc } : { type: 'ipc' });
  namespaces.push(ctx.namespaces.uts ? { type: 'uts', path: ctx.namespaces.uts } : { type: 'uts' });
  namespaces.push(ctx.namespaces.pid ? { type: 'pid', path: ctx.namespaces.pid } : { type: 'pid' });
  if (!namespaces.some((ns) => ns.type === 'mount')) namespaces.push({ type: 'mount' });
  linux.namespaces = namespaces;
  if (!linux.cgroupsPath) linux.cgroupsPath = `/${ctx.containerId}`;
  if (ctx.applySeccomp === false) delete linux.seccomp;
  out.linux = linux;

  // The hostname lives in the pod's uts namespace (set at CreateSandbox); an OCI runtime may
  // not set it in a namespace it joins rather than creates.
  if (ctx.namespaces.uts) delete out.hostname;

  const mounts: OciJson[] = [];
  for (const m of (spec.mounts ?? []) as OciJson[]) {
    if (m.destination === '/dev/shm' && (m.source === SANDBOX_SHM || m.source === 'shm')) {
      // The pod's shared /dev/shm when the sandbox mounted one; otherwise a private tmpfs.
      mounts.push(
        ctx.sandboxShm
          ? { destination: '/dev/shm', source: ctx.sandboxShm, type: 'bind', options: ['rbind'] }
          : { destination: '/dev/shm', source: 'shm', type: 'tmpfs', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      );
      continue;
    }
    mounts.push(m);
  }
  if (ctx.resolvConf && !mounts.some((m) => m.destination === '/etc/resolv.conf')) {
    mounts.push({ destination: '/etc/resolv.conf', source: ctx.resolvConf, type: 'bind', options: ['bind', 'ro'] });
  }
  out.mounts = mounts;
  return out;
}
