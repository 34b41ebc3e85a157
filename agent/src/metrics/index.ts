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
  #inFlight: Promise<string> | undefined;
  constructor(private readonly opts: MetricsSourceOptions) {}

  /**
   * One page. Calls that come while a page is being made get that page: it is as fresh as
   * any they could get, and a flood of GetMetrics then costs one scrape at a time instead of
   * one per call (its garbage is what drives the agent's memory under a flood).
   * kata_agent_scrape_count counts the pages made.
   */
  scrape(): Promise<string> {
    this.#inFlight ??= this.#scrapeNow().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #scrapeNow(): Promise<string> {
    const procRoot = this.opts.procRoot ?? '/proc';
    const count = ++this.#scrapes;
    const [agent, guest] = await Promise.all([agentProcessFamilies(procRoot, 'self', count), guestOsFamilies(procRoot)]);
    return renderExposition([...agent, ...this.opts.rpc.families(), ...guest]);
  }
}
