// One debug line per finished call (method, container and exec ids, time taken, status): what a
// hang or a failure under a real runtime needs first, as Kata's agent logs each request. Nothing
// else of the request is logged: it may carry secrets (CopyFile data, env of a process).
import type { Logger } from '../log/logger';
import { Code, statusFromError } from '../ttrpc/status';
import type { ServiceHandlers } from './services';
import type { Message, TypedHandler } from './typed';

function ids(req: Message): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof req.container_id === 'string' && req.container_id) out.container = req.container_id;
  if (typeof req.exec_id === 'string' && req.exec_id) out.exec = req.exec_id;
  return out;
}

function logged(service: string, method: string, handler: TypedHandler, log: Logger): TypedHandler {
  const name = `${service.slice(service.lastIndexOf('.') + 1)}/${method}`;
  return async (req, ctx) => {
    const start = performance.now();
    try {
      const res = await handler(req, ctx);
      log.debug('call', { method: name, ...ids(req), ms: Math.round(performance.now() - start), code: 'OK' });
      return res;
    } catch (err) {
      const { code, message } = statusFromError(err, method);
      log.debug('call', { method: name, ...ids(req), ms: Math.round(performance.now() - start), code: Code[code], error: message });
      throw err;
    }
  };
}

/** The services with each handler logged; unchanged (no cost per call) unless debug is on. */
export function withCallLog(services: ServiceHandlers, log: Logger): ServiceHandlers {
  if (!log.enabled('debug')) return services;
  const out: ServiceHandlers = new Map();
  for (const [service, impl] of services) {
    out.set(service, Object.fromEntries(Object.entries(impl).map(([method, h]) => [method, logged(service, method, h, log)])));
  }
  return out;
}
