// AgentService handlers for the guest as a whole: metrics, guest details, CPU/memory hotplug,
// clock, entropy, swap, volumes, ephemeral and stale share mounts, diagnostics, policy.
// Thin: check the request's shape, call the guest/, metrics/ or policy/ module, answer.
import type { AgentConfig } from '../config/config';
import { reseedRandom, setGuestDateTime } from '../guest/clock-entropy';
import { diagnosticData, RecentLogLines } from '../guest/diagnostics';
import { updateEphemeralMounts } from '../guest/ephemeral-mounts';
import { guestDetails } from '../guest/guest-details';
import { probeMemory } from '../guest/mem-hotplug';
import { onlineCpuMem } from '../guest/online-cpu-mem';
import { removeStaleShareMounts, SHARED_CONTAINERS_DIR } from '../guest/share-mounts';
import { addSwapDevice, addSwapFile, type SwapDeviceResolver } from '../guest/swap';
import { volumeStats } from '../guest/volume-stats';
import type { Logger } from '../log/logger';
import { MetricsSource, type RpcMetrics } from '../metrics';
import type { PolicyHolder } from '../policy';
import { waitForVirtioBlkByPciPath } from '../storage/block-devices';
import { GuestPathConfinement } from '../storage/confinement';
import { Code, RpcError } from '../ttrpc/status';
import type { AgentServiceImpl, Handler } from './typed';

export interface GuestServiceDeps {
  log: Logger;
  config: Pick<AgentConfig, 'hotplugTimeoutMs'>;
  policy: PolicyHolder;
  rpcMetrics: RpcMetrics;
  /** sysfs, procfs and /dev roots (tests point them at fake trees). */
  sysRoot?: string;
  procRoot?: string;
  devRoot?: string;
  /** The virtio-fs share of containers (RemoveStaleVirtiofsShareMounts). */
  sharedContainersDir?: string;
  /** Ring of recent log lines for GetDiagnosticData; made and attached to `log` if absent. */
  recentLogs?: RecentLogLines;
  /** Device.type values CreateContainer handles, reported by GetGuestDetails (default none). */
  deviceHandlers?: readonly string[];
  /** Block device of AddSwap's PCI path (default: the virtio-blk lookup of the storage layer). */
  resolveSwapDevice?: SwapDeviceResolver;
  /** Guest paths GetVolumeStats, AddSwapPath and UpdateEphemeralMounts may name (default: Kata's roots). */
  confinement?: GuestPathConfinement;
}

/** Kata sends the swap disk's PCI path as slot numbers, function 0 on each bus. */
function defaultSwapResolver(deps: GuestServiceDeps): SwapDeviceResolver {
  return (slots, signal) =>
    waitForVirtioBlkByPciPath(slots.map((s) => s.toString(16).padStart(2, '0')).join('/'), {
      sysRoot: deps.sysRoot ?? '/sys',
      devRoot: deps.devRoot ?? '/dev',
      timeoutMs: deps.config.hotplugTimeoutMs,
      signal,
    });
}

function memAgentUnsupported<M extends 'MemAgentMemcgSet' | 'MemAgentCompactSet'>(method: M): Handler<M> {
  return () => {
    throw new RpcError(Code.UNIMPLEMENTED, `${method}: this agent has no mem-agent (memcg reclaim and compaction daemon); nothing was changed`);
  };
}

export function guestServiceHandlers(deps: GuestServiceDeps) {
  const log = deps.log.child({ subsystem: 'guest' });
  const metrics = new MetricsSource({ rpc: deps.rpcMetrics, procRoot: deps.procRoot });
  let recentLogs = deps.recentLogs;
  if (!recentLogs) {
    recentLogs = new RecentLogLines();
    deps.log.addSink(recentLogs);
  }
  const logs = recentLogs;
  const resolveSwap = deps.resolveSwapDevice ?? defaultSwapResolver(deps);
  const confinement = deps.confinement ?? new GuestPathConfinement();
  const empty = {};

  return {
    GetMetrics: async () => ({ metrics: await metrics.scrape() }),

    GetGuestDetails: (r) => guestDetails(r, { sysRoot: deps.sysRoot, procRoot: deps.procRoot, deviceHandlers: deps.deviceHandlers }),

    // Always answered when done, whatever `wait` says: as Kata's agent does, because the
    // runtime goes on to give containers the new CPUs right after this call.
    OnlineCPUMem: async (r, ctx) => {
      const done = await onlineCpuMem(r, { sysRoot: deps.sysRoot, timeoutMs: deps.config.hotplugTimeoutMs, log, signal: ctx.signal });
      log.info('online CPU and memory', { ...done, nb_cpus: r.nb_cpus, cpu_only: r.cpu_only });
      return empty;
    },

    MemHotplugByProbe: (r) => {
      probeMemory(r.memHotplugProbeAddr ?? [], deps.sysRoot);
      return empty;
    },

    ReseedRandomDev: (r) => {
      reseedRandom(r.data);
      return empty;
    },

    SetGuestDateTime: (r) => {
      setGuestDateTime(r.Sec, r.Usec);
      log.info('guest clock set', { sec: r.Sec, usec: r.Usec });
      return empty;
    },

    AddSwap: async (r, ctx) => {
      const added = await addSwapDevice((r.PCIPath ?? []).map(Number), resolveSwap, ctx.signal);
      log.info('swap added', { ...added });
      return empty;
    },

    AddSwapPath: async (r) => {
      const added = await addSwapFile(await confinement.checkPath('swap', r.path, 'AddSwapPath'));
      log.info('swap file added', { path: r.path, ...added });
      return empty;
    },

    // Lexical check only: resolving symlinks (realpath) would run on libuv's threadpool, which a
    // stalled share could hold; statfs itself runs on a thread of its own (native/fs-stat.ts).
    GetVolumeStats: (r) => volumeStats(confinement.check('volume stats', r.volume_guest_path, 'GetVolumeStats')),

    ResizeVolume: (r) => {
      throw new RpcError(
        Code.UNIMPLEMENTED,
        `ResizeVolume of ${r.volume_guest_path || '(no path)'}: online filesystem resize is not supported by this agent (Kata's agent does not implement it either)`,
      );
    },

    UpdateEphemeralMounts: async (r) => {
      const storages = r.storages;
      for (const [i, s] of storages.entries()) confinement.check('mount point', s.mount_point, `UpdateEphemeralMounts: storage ${i}`);
      const done = await updateEphemeralMounts(storages);
      log.info('ephemeral mounts updated', { mounts: done });
      return empty;
    },

    RemoveStaleVirtiofsShareMounts: async () => {
      await removeStaleShareMounts({ shareDir: deps.sharedContainersDir ?? SHARED_CONTAINERS_DIR, log });
      return empty;
    },

    GetDiagnosticData: (r) => ({ data: diagnosticData(r, { recentLogs: logs, devKmsg: deps.devRoot ? `${deps.devRoot}/kmsg` : undefined }) }),

    MemAgentMemcgSet: memAgentUnsupported('MemAgentMemcgSet'),
    MemAgentCompactSet: memAgentUnsupported('MemAgentCompactSet'),

    SetPolicy: (r) => {
      const policy = deps.policy.replace(typeof r.policy === 'string' ? r.policy : '');
      log.info('policy set', { rules: policy.document.rules.length, default: policy.document.defaultAction });
      return empty;
    },
  } satisfies AgentServiceImpl;
}
