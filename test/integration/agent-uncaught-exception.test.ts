// An uncaught exception ends the bundled agent (not PID 1 here): it logs the error as one JSON
// line with its stack and exits with status 1 instead of serving on in a state nobody knows.
import { once } from 'node:events';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import { type AgentProcess, REPO_ROOT, startAgentProcess, tempDir } from '../helpers/agent-process';

const PROBE = path.join(REPO_ROOT, 'test/helpers/uncaught-exception-probe.cjs');
let agent: AgentProcess | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

/** Starts the agent with the probe, has it throw, and waits for the process and its stderr to end. */
async function throwInAgent(): Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: Array<Record<string, unknown>> }> {
  const sock = path.join(tempDir('uncaught-'), 'a.sock');
  agent = await startAgentProcess({ args: ['--server-addr', `unix://${sock}`], nodeArgs: ['--require', PROBE], ipc: true });
  const c = await AgentClient.connect(agent.address);
  expect(await c.request('Health/Check')).toEqual({ status: 'SERVING' });
  c.close();
  const exited = once(agent.child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  agent.child.send('throw');
  let timer: NodeJS.Timeout | undefined;
  const stillRunning = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`agent still running 10 s after the exception; logs: ${JSON.stringify(agent!.logs)}`)), 10_000);
  });
  const [code, signal] = await Promise.race([exited, stillRunning]).finally(() => clearTimeout(timer));
  return { code, signal, lines: agent.logs };
}

describe('uncaught exception in the agent process', () => {
  it('logs the error with its stack as one JSON line, then exits 1', async () => {
    const { code, signal, lines } = await throwInAgent();
    expect({ code, signal }).toEqual({ code: 1, signal: null });
    // Every line of stderr was one JSON object (agent-process marks any other as { raw }).
    expect(lines.filter((l) => 'raw' in l)).toEqual([]);
    const fatal = lines.filter((l) => l.msg === 'uncaught exception: the agent ends');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ level: 'critical', name: 'kata-agent', error: { message: 'thrown by uncaught-exception-probe' } });
    const stack = (fatal[0]!.error as { stack: string }).stack;
    expect(stack).toMatch(/^Error: thrown by uncaught-exception-probe\n\s+at /);
    expect(stack).toContain('uncaught-exception-probe.cjs');
    // It is the last word: nothing served or logged after it.
    expect(lines.at(-1)).toBe(fatal[0]);
  });
});
