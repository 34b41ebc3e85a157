// Every AgentService method is served; those without an implementation answer UNIMPLEMENTED.
import { describe, expect, it } from 'vitest';
import { AGENT_SERVICE, serviceMethods } from '../../agent/src/proto/schema';
import { agentServices, registerTtrpc } from '../../agent/src/service/services';
import { AgentClient } from '../../agent/src/client/agent-client';
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
});
