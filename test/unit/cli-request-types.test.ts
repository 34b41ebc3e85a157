// agent-ctl's requests are typed by method (AgentSession.request over the generated
// AgentServiceMethods): a request with a misspelled field or a wrongly typed value fails tsc,
// and the reply has the response's fields. Each @ts-expect-error is such a mistake; tsc
// (`tsc --noEmit -p .`) fails if one stops being an error.
import { expect, test } from 'vitest';
import type { AgentSession } from '../../agent/cli/session';
import { buildCreateRequest } from '../../agent/cli/container-request';
import type { CreateContainerRequestInit } from '../../agent/src/proto/messages.generated';

// Never called: only compiled.
export async function mistakes(session: AgentSession): Promise<void> {
  // @ts-expect-error: StartContainerRequest has container_id
  await session.request('StartContainer', { containerId: 'c1' });
  // @ts-expect-error: signal is a uint32
  await session.request('SignalProcess', { container_id: 'c1', signal: 'SIGTERM' });
  // @ts-expect-error: not an AgentService method
  await session.request('StartContainr', {});
  const { status } = await session.request('WaitProcess', { container_id: 'c1', exec_id: '' });
  // @ts-expect-error: the reply's status is a number
  const text: string = status;
  void text;
  // Other services' methods take any object (checked by encodeMessage at run time).
  await session.requestJson('Health/Check', { service: '' });
}

test('buildCreateRequest makes a CreateContainerRequest', () => {
  const io = { stdout: () => undefined, stderr: () => undefined } as unknown as Parameters<typeof buildCreateRequest>[3];
  const req: CreateContainerRequestInit = buildCreateRequest('c1', { rootfs: '/tmp/rootfs' }, ['true'], io);
  expect(req).toMatchObject({ container_id: 'c1', exec_id: 'c1', OCI: { Process: { Args: ['true'] }, Root: { Path: '/tmp/rootfs' } }, storages: [] });
});
