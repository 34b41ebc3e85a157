// Shutdown.abort, the way out after an uncaught exception: no hook runs; PID 1 syncs (bounded)
// and powers off; any other process exits with the code given. The machine is a fake here.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Machine, Shutdown } from '../../agent/src/init/shutdown';
import { Logger, type LogSink } from '../../agent/src/log/logger';
import type { RebootCommand } from '../../agent/src/native';

function recorder(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink: LogSink = { write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
  return { log: Logger.create('debug', [sink]), lines };
}

function fakeMachine(sync: () => Promise<void>): Machine & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    sync: () => {
      calls.push('sync');
      return sync();
    },
    reboot: (command: RebootCommand) => void calls.push(`reboot ${command}`),
  };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

afterEach(() => vi.restoreAllMocks());

describe('Shutdown.abort', () => {
  it('as PID 1: runs no hook, syncs, then powers off', async () => {
    const { log, lines } = recorder();
    const machine = fakeMachine(() => Promise.resolve());
    const shutdown = new Shutdown(log, true, machine);
    const hook = vi.fn(() => Promise.resolve());
    shutdown.onShutdown('containers', hook);
    void shutdown.abort('uncaught exception: boom');
    await flush();
    expect(machine.calls).toEqual(['sync', 'reboot power-off']);
    expect(hook).not.toHaveBeenCalled();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['critical', 'shutting down at once'],
      ['info', 'powering off'],
    ]);
    expect(lines[0]!.reason).toBe('uncaught exception: boom');
  });

  it('as PID 1: powers off even when sync never returns', async () => {
    const { log, lines } = recorder();
    const machine = fakeMachine(() => new Promise(() => undefined));
    void new Shutdown(log, true, machine).abort('stuck disk', 1, 20);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(machine.calls).toEqual(['sync', 'reboot power-off']);
    expect(lines.find((l) => l.msg === 'sync failed')).toMatchObject({ level: 'error', error: { message: 'timed out after 20 ms' } });
  });

  it('not PID 1: exits with the code given at once, touching neither hooks nor the machine', async () => {
    const { log } = recorder();
    const machine = fakeMachine(() => Promise.resolve());
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const shutdown = new Shutdown(log, false, machine);
    const hook = vi.fn(() => Promise.resolve());
    shutdown.onShutdown('containers', hook);
    void shutdown.abort('uncaught exception: boom');
    expect(exit).toHaveBeenCalledWith(1);
    await flush();
    expect(hook).not.toHaveBeenCalled();
    expect(machine.calls).toEqual([]);
  });
});
