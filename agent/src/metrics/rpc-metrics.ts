// Counts and latencies of the agent's RPCs, recorded by the ttRPC layer after every call and
// rendered by GetMetrics as kata_agent_rpc_requests_total and kata_agent_rpc_duration_seconds.
import type { TypedHandler } from '../service/typed';
import { codeName, statusFromError } from '../ttrpc/status';
import type { MetricFamily, Sample } from './exposition';

// Upper bounds in seconds: agent calls range from sub-millisecond (WriteStdin) to seconds
// (CreateContainer waiting for a hot-plugged disk).
export const RPC_LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface MethodStats {
  /** calls by status code name */
  byCode: Map<string, number>;
  /** per bucket, not cumulative (made cumulative when rendered) */
  buckets: number[];
  count: number;
  sum: number;
}

export class RpcMetrics {
  readonly #methods = new Map<string, MethodStats>();

  /** One finished call: its method ("CreateContainer"), duration, and status (number or name; 0 = OK). */
  observe(method: string, seconds: number, code: number | string = 0): void {
    let stats = this.#methods.get(method);
    if (!stats) {
      stats = { byCode: new Map(), buckets: new Array<number>(RPC_LATENCY_BUCKETS.length).fill(0), count: 0, sum: 0 };
      this.#methods.set(method, stats);
    }
    const codeText = typeof code === 'number' ? codeName(code) : code;
    stats.byCode.set(codeText, (stats.byCode.get(codeText) ?? 0) + 1);
    const d = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
    stats.count++;
    stats.sum += d;
    // Buckets are few and sorted: a linear scan beats a binary search at this size.
    for (let i = 0; i < RPC_LATENCY_BUCKETS.length; i++) {
      if (d <= RPC_LATENCY_BUCKETS[i]!) {
        stats.buckets[i]!++;
        break;
      }
    }
  }

  families(): MetricFamily[] {
    const requests: Sample[] = [];
    const latency: Sample[] = [];
    for (const [method, stats] of [...this.#methods].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      for (const [code, n] of stats.byCode) requests.push({ labels: { method, code }, value: n });
      let cumulative = 0;
      for (let i = 0; i < RPC_LATENCY_BUCKETS.length; i++) {
        cumulative += stats.buckets[i]!;
        latency.push({ suffix: '_bucket', labels: { method, le: String(RPC_LATENCY_BUCKETS[i]) }, value: cumulative });
      }
      latency.push({ suffix: '_bucket', labels: { method, le: '+Inf' }, value: stats.count });
      latency.push({ suffix: '_sum', labels: { method }, value: stats.sum });
      latency.push({ suffix: '_count', labels: { method }, value: stats.count });
    }
    return [
      { name: 'kata_agent_rpc_requests_total', type: 'counter', help: 'RPCs served, by method and status code.', samples: requests },
      { name: 'kata_agent_rpc_duration_seconds', type: 'histogram', help: 'Time from request to response, by method.', samples: latency },
    ];
  }
}

/**
 * Wraps handlers so that each call is observed (outermost, so that policy refusals and bad
 * requests count too). The ttRPC layer may call observe() itself instead, to also count
 * requests that fail before a handler runs.
 */
export function withRpcMetrics(rpc: RpcMetrics, handlers: Record<string, TypedHandler>): Record<string, TypedHandler> {
  const out: Record<string, TypedHandler> = {};
  for (const [method, handler] of Object.entries(handlers)) {
    out[method] = async (request, ctx) => {
      const start = process.hrtime.bigint();
      try {
        const response = await handler(request, ctx);
        rpc.observe(method, Number(process.hrtime.bigint() - start) / 1e9, 0);
        return response;
      } catch (err) {
        rpc.observe(method, Number(process.hrtime.bigint() - start) / 1e9, statusFromError(err).code);
        throw err;
      }
    };
  }
  return out;
}
