// Handlers are typed per method (service/typed.ts over proto/messages.generated.ts): a handler that
// reads a field its request lacks, or answers with a field or a value its response does not
// have, fails tsc. Each @ts-expect-error below is such a mistake; tsc (`tsc --noEmit -p .`)
// fails if one of them stops being an error. At run time the typed handlers are the ones the
// registry calls by name.
import { expect, test } from 'vitest';
import { healthHandlers } from '../../agent/src/service/health';
import type { AgentServiceImpl, Handler, HealthServiceImpl, TypedHandler } from '../../agent/src/service/typed';

const ok = {
  StartContainer: (r) => {
    void r.container_id;
    return {};
  },
  WaitProcess: async (r) => ({ status: r.exec_id.length }),
  StatsContainer: () => ({ network_stats: [{ name: 'eth0', rx_bytes: 1n, tx_bytes: '2' }] }), // 64-bit: number, string or bigint
  UpdateInterface: (r) => r.interface ?? {}, // a decoded message is a valid answer
} satisfies AgentServiceImpl;

export const mistakes = [
  {
    // @ts-expect-error: StartContainerRequest has container_id, not containerId
    StartContainer: (r) => ({ id: r.containerId }),
  } satisfies AgentServiceImpl,
  {
    // @ts-expect-error: Empty has no fields to answer with
    StartContainer: () => ({ started: true }),
  } satisfies AgentServiceImpl,
  {
    // @ts-expect-error: WaitProcessResponse.status is an int32, not a string
    WaitProcess: async () => ({ status: 'exited' }),
  } satisfies AgentServiceImpl,
  {
    // @ts-expect-error: not an AgentService method
    StartContainr: () => ({}),
  } satisfies AgentServiceImpl,
  {
    // @ts-expect-error: not a value of HealthCheckResponse.ServingStatus
    Check: () => ({ status: 'SERVNG' }),
  } satisfies HealthServiceImpl,
];

const create: Handler<'CreateContainer'> = (r) => {
  // Sub-messages may be absent (null): the compiler insists on the check.
  // @ts-expect-error: OCI is Spec | null
  void r.OCI.Process;
  void r.OCI?.Process?.Args;
  return {};
};

test('typed handlers are what the registry calls by name', async () => {
  const byName: Record<string, TypedHandler> = { ...ok, CreateContainer: create, ...healthHandlers() };
  const ctx = {} as Parameters<TypedHandler>[1];
  expect(await byName.WaitProcess!({ container_id: 'c', exec_id: 'abc' }, ctx)).toEqual({ status: 3 });
  expect(await byName.Check!({ service: '' }, ctx)).toEqual({ status: 'SERVING' });
  expect(mistakes).toHaveLength(5);
});
