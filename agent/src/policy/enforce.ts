// The hook: every AgentService handler runs only after the active policy accepted its request.
import type { TypedHandler } from '../service/typed';
import { Code, RpcError } from '../ttrpc/status';
import type { PolicyHolder } from './holder';

export function policyDenied(method: string, rule: string, reason: string): RpcError {
  return new RpcError(Code.PERMISSION_DENIED, `${method} denied by policy rule "${rule}": ${reason}`);
}

/** Wraps each handler with a policy check of its method and decoded request. */
export function withPolicy(policy: PolicyHolder, handlers: Record<string, TypedHandler>): Record<string, TypedHandler> {
  const out: Record<string, TypedHandler> = {};
  for (const [method, handler] of Object.entries(handlers)) {
    out[method] = (request, ctx) => {
      const decision = policy.check(method, request);
      if (!decision.allowed) throw policyDenied(method, decision.rule, decision.reason);
      return handler(request, ctx);
    };
  }
  return out;
}
