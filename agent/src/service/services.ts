// The services the agent serves, as typed handlers per method, and their registration on a
// ttRPC server. Every AgentService method is registered; those without an implementation
// answer UNIMPLEMENTED naming the method.
import { AGENT_SERVICE, HEALTH_SERVICE, serviceMethods } from '../proto/schema';
import type { TtrpcServer } from '../ttrpc/server';
import { Code, RpcError } from '../ttrpc/status';
import { healthHandlers } from './health';
import { toUnaryHandler, type TypedHandler } from './typed';

export type ServiceHandlers = Map<string, Record<string, TypedHandler>>;

export function notImplemented(service: string, method: string): TypedHandler {
  return () => {
    throw new RpcError(Code.UNIMPLEMENTED, `${service}/${method} is not implemented by this agent yet`);
  };
}

/** Fills in every method of each service from the schema; missing ones answer UNIMPLEMENTED. */
export function completeServices(handlers: ServiceHandlers): ServiceHandlers {
  const out: ServiceHandlers = new Map();
  for (const [service, impl] of handlers) {
    const full: Record<string, TypedHandler> = {};
    for (const m of serviceMethods(service)) full[m.method] = impl[m.method] ?? notImplemented(service, m.method);
    for (const name of Object.keys(impl)) {
      if (!(name in full)) throw new Error(`handler ${service}/${name} has no method in the schema`);
    }
    out.set(service, full);
  }
  return out;
}

export function agentServices(agentImpl: Record<string, TypedHandler>): ServiceHandlers {
  return completeServices(
    new Map([
      [AGENT_SERVICE, agentImpl],
      [HEALTH_SERVICE, healthHandlers()],
    ]),
  );
}

export function registerTtrpc(server: TtrpcServer, services: ServiceHandlers): void {
  for (const [service, impl] of services) {
    for (const info of serviceMethods(service)) {
      server.register(service, info.method, toUnaryHandler(info, impl[info.method]!));
    }
  }
}
