// Composes the AgentService implementation from the domain areas (containers and sandbox,
// network, guest), behind the policy check and the RPC metrics.
import type { AgentConfig } from '../config/config';
import type { Logger } from '../log/logger';
import type { GuestNetwork } from '../network/network';
import { RpcMetrics, withRpcMetrics } from '../metrics';
import { DEFAULT_POLICY_FILE, PolicyHolder, withPolicy } from '../policy';
import { AGENT_SERVICE, serviceMethods } from '../proto/schema';
import { GuestPathConfinement } from '../storage/confinement';
import { StorageManager } from '../storage/manager';
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

export function buildAgentImpl(deps: AgentImplDeps): AgentImpl {
  const { config, log } = deps;
  const methods = new Set(serviceMethods(AGENT_SERVICE).map((m) => m.method));
  const policy = PolicyHolder.fromFile(deps.policyFile ?? DEFAULT_POLICY_FILE, methods, log.child({ subsystem: 'policy' }));
  const rpcMetrics = new RpcMetrics();
  // One confinement for every request naming a guest path; the image's policy may widen it.
  const confinement = new GuestPathConfinement({ policyRoots: () => policy.guestRoots });
  const storage = new StorageManager({ log: log.child({ subsystem: 'storage' }), hotplugTimeoutMs: config.hotplugTimeoutMs, confinement });
  const containers = createContainerService({
    config,
    log: log.child({ subsystem: 'container' }),
    storage,
    onDestroyed: deps.onSandboxDestroyed,
    prepareCgroups: deps.prepareCgroups,
    confinement,
  });
  const handlers: Record<string, TypedHandler> = {
    ...containers.handlers,
    ...networkServiceHandlers({ log, hotplugTimeoutMs: config.hotplugTimeoutMs, network: deps.network }),
    ...guestServiceHandlers({ log, config, policy, rpcMetrics, confinement }),
  };
  return {
    handlers: withRpcMetrics(rpcMetrics, withPolicy(policy, handlers)),
    rpcMetrics,
    teardown: async () => {
      if (containers.sandbox.current()) await containers.sandbox.destroy({ notify: false });
      else await containers.containers.removeAll();
      await storage.releaseAll();
    },
  };
}
