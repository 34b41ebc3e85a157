// GetMetrics: one Prometheus text page with the agent's own families and the guest's.
import { agentProcessFamilies } from './agent-process';
import { renderExposition } from './exposition';
import { guestOsFamilies } from './guest-os';
import type { RpcMetrics } from './rpc-metrics';

export { RpcMetrics, RPC_LATENCY_BUCKETS, withRpcMetrics } from './rpc-metrics';
export { renderExposition, type MetricFamily, type Sample } from './exposition';

export interface MetricsSourceOptions {
  rpc: RpcMetrics;
  /** procfs root (tests may point it at a copy). */
  procRoot?: string;
}

export class MetricsSource {
  #scrapes = 0;
  constructor(private readonly opts: MetricsSourceOptions) {}

  async scrape(): Promise<string> {
    const procRoot = this.opts.procRoot ?? '/proc';
    const count = ++this.#scrapes;
    const [agent, guest] = await Promise.all([agentProcessFamilies(procRoot, 'self', count), guestOsFamilies(procRoot)]);
    return renderExposition([...agent, ...this.opts.rpc.families(), ...guest]);
  }
}
