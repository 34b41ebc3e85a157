// Every AgentService method is served; those without an implementation answer UNIMPLEMENTED.
import { describe, expect, it } from 'vitest';
import { AGENT_SERVICE, serviceMethods } from '../../agent/src/proto/schema';
import { Logger } from '../../agent/src/log/logger';
import { withCallLog } from '../../agent/src/service/call-log';
import { agentServices, registerTtrpc } from '../../agent/src/service/services';
import { AgentClient } from '../../agent/client/agent-client';
import { Code } from '../../agent/src/ttrpc/status';
import { startServer } from '../helpers/ttrpc';

describe('service registration', () => {
  it('answers UNIMPLEMENTED naming each method that has no implementation', async () => {
    const fx = await startServer((s) => registerTtrpc(s, agentServices({ ListRoutes: () => ({ Routes: [] }) })));
    try {
      const c = new AgentClient(await fx.client());
      expect(await c.request('ListRoutes', {})).toEqual({ Routes: [] });
      for (const m of serviceMethods(AGENT_SERVICE).filter((x) => x.method !== 'ListRoutes')) {
        await expect(c.ttrpc.call(AGENT_SERVICE, m.method, new Uint8Array())).rejects.toMatchObject({
          code: Code.UNIMPLEMENTED,
          message: `${AGENT_SERVICE}/${m.method} is not implemented by this agent yet`,
        });
      }
    } finally {
      await fx.close();
    }
  });

  it('refuses a handler for a method the schema does not have', () => {
    expect(() => agentServices({ NoSuchThing: () => ({}) })).toThrow(/NoSuchThing has no method in the schema/);
  });

  it('logs each finished call at debug (method, ids, time, status) and nothing of the request else', async () => {
    const lines: string[] = [];
    const log = Logger.create('debug', [{ write: (l) => lines.push(l) }]);
    const impl = {
      ListRoutes: () => ({ Routes: [] }),
      SignalProcess: () => {
        throw new Error('boom');
      },
    };
    const fx = await startServer((s) => registerTtrpc(s, withCallLog(agentServices(impl), log)));
    try {
      const c = new AgentClient(await fx.client());
      await c.request('ListRoutes', {});
      await expect(c.request('SignalProcess', { container_id: 'c1', exec_id: 'e1', signal: 9 })).rejects.toMatchObject({ code: Code.INTERNAL });
    } finally {
      await fx.close();
    }
    const calls = lines.map((l) => JSON.parse(l)).filter((r) => r.msg === 'call');
    expect(calls).toEqual([
      expect.objectContaining({ level: 'debug', method: 'AgentService/ListRoutes', code: 'OK', ms: expect.any(Number) }),
      expect.objectContaining({ method: 'AgentService/SignalProcess', container: 'c1', exec: 'e1', code: 'INTERNAL', error: expect.stringContaining('boom') }),
    ]);
    expect(calls[1]).not.toHaveProperty('signal');
    // Above debug the handlers are the same functions: no cost per call.
    const quiet = agentServices(impl);
    expect(withCallLog(quiet, Logger.create('info', []))).toBe(quiet);
  });
});
