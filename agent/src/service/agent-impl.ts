// The composition root: builds the agent's parts (storage, the pod's sandbox and containers with
// crun and OOM events, network, guest) and hands them to the services, behind the policy check
// and the RPC metrics. Nothing else constructs a domain part for the running agent.
import type { AgentConfig } from '../config/config';
import { ContainerManager } from '../container/manager';
import { OomEvents } from '../container/oom-events';
import { OciRuntime, type OciRuntimeOptions } from '../container/runtime/oci-runtime';
import type { Logger } from '../log/logger';
import type { GuestNetwork } from '../network/network';
import { RpcMetrics, withRpcMetrics } from '../metrics';
import { DEFAULT_POLICY_FILE, PolicyHolder, withPolicy } from '../policy';
import { AGENT_SERVICE, serviceMethods } from '../proto/schema';
import { GuestPathConfinement } from '../storage/confinement';
import { StorageManager } from '../storage/manager';
import type { StorageManagerApi } from '../storage/types';
import { SandboxLifecycle } from '../sandbox/lifecycle';
import { createContainerService } from './container-service';
import { guestServiceHandlers } from './guest-service';
import { networkServiceHandlers } from './network-service';
import type { TypedHandler } from './typed';

export interface AgentImplDeps {
  config: AgentConfig;
  log: Logger;
  /** Called once DestroySandbox has torn the pod down (as PID 1: power off). */
  onSandboxDestroyed?: () => void;
  /** Where the image's policy is read from (a missing file allows everything). */
  policyFile?: string;
  /** The guest network the network methods act on (default: one opened on first use). */
  network?: GuestNetwork;
  /** Run before each CreateContainer (as PID 1: enable the cgroup controllers once). */
  prepareCgroups?: () => void;
}

export interface AgentImpl {
  handlers: Record<string, TypedHandler>;
  rpcMetrics: RpcMetrics;
  /** Stops containers and releases storages (agent shutdown). */
  teardown(): Promise<void>;
}

export interface PodDeps {
  config: Pick<AgentConfig, 'launchProcessTimeoutMs' | 'containerPipeSize' | 'hotplugTimeoutMs'> & Partial<Pick<AgentConfig, 'sharedFsTag'>>;
  log: Logger;
  storage: StorageManagerApi;
  /** crun's path, --root and --cgroup-manager (default: crun on PATH, cgroupfs). */
  runtime?: Omit<OciRuntimeOptions, 'log'>;
  /** The cgroup v2 mount (default /sys/fs/cgroup). */
  cgroupRoot?: string;
  /** Run before each CreateContainer (see ContainerManagerOptions.prepareCgroups). */
  prepareCgroups?: () => void;
  /** After DestroySandbox has torn everything down (PID 1 powers off here). */
  onDestroyed?: () => void | Promise<void>;
  /** The pod's namespace holder program (default cat). */
  holderCommand?: string[];
  modprobe?: string;
  /** Apply containers' seccomp profiles (default true). */
  guestSeccomp?: boolean;
  /** Guest paths the OCI spec's bind sources may name (default: Kata's roots). */
  confinement?: GuestPathConfinement;
}

/** The pod's parts: its sandbox, its containers, and the OOM events of their cgroups. */
export interface Pod {
  sandbox: SandboxLifecycle;
  containers: ContainerManager;
  oom: OomEvents;
}

export function buildPod(deps: PodDeps): Pod {
  const { config, log, storage } = deps;
  const cgroupRoot = deps.cgroupRoot ?? '/sys/fs/cgroup';
  const oom = new OomEvents(cgroupRoot, log);
  const sandbox = new SandboxLifecycle({
    storage,
    log,
    onDestroyed: deps.onDestroyed,
    holderCommand: deps.holderCommand,
    modprobe: deps.modprobe,
    sharedFsTag: config.sharedFsTag,
  });
  const containers = new ContainerManager({
    runtime: new OciRuntime({ ...deps.runtime, log }),
    storage,
    log,
    sandbox,
    launchTimeoutMs: config.launchProcessTimeoutMs,
    pipeSize: config.containerPipeSize,
    hotplugTimeoutMs: config.hotplugTimeoutMs,
    cgroupRoot,
    prepareCgroups: deps.prepareCgroups,
    oom,
    guestSeccomp: deps.guestSeccomp,
    sharedFsTag: config.sharedFsTag,
    confinement: deps.confinement,
  });
  // DestroySandbox takes the containers down first.
  sandbox.beforeDestroy(() => containers.removeAll());
  return { sandbox, containers, oom };
}

export function buildAgentImpl(deps: AgentImplDeps): AgentImpl {
  const { config, log } = deps;
  const methods = new Set(serviceMethods(AGENT_SERVICE).map((m) => m.method));
  const policy = PolicyHolder.fromFile(deps.policyFile ?? DEFAULT_POLICY_FILE, methods, log.child({ subsystem: 'policy' }));
  const rpcMetrics = new RpcMetrics();
  // One confinement for every request naming a guest path; the image's policy may widen it.
  const confinement = new GuestPathConfinement({ policyRoots: () => policy.guestRoots });
  const storage = new StorageManager({ log: log.child({ subsystem: 'storage' }), hotplugTimeoutMs: config.hotplugTimeoutMs, confinement });
  const containerLog = log.child({ subsystem: 'container' });
  const pod = buildPod({ config, log: containerLog, storage, onDestroyed: deps.onSandboxDestroyed, prepareCgroups: deps.prepareCgroups, confinement });
  const handlers: Record<string, TypedHandler> = {
    ...createContainerService({ log: containerLog, ...pod }),
    ...networkServiceHandlers({ log, hotplugTimeoutMs: config.hotplugTimeoutMs, network: deps.network }),
    ...guestServiceHandlers({ log, config, policy, rpcMetrics, confinement }),
  };
  return {
    handlers: withRpcMetrics(rpcMetrics, withPolicy(policy, handlers)),
    rpcMetrics,
    teardown: async () => {
      if (pod.sandbox.current()) await pod.sandbox.destroy({ notify: false });
      else await pod.containers.removeAll();
      await storage.releaseAll();
    },
  };
}
