// Structured logs, the log vport's buffering, and the debug console served on a socket.
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serveDebugConsole } from '../../agent/src/debug/console';
import { Logger, type LogSink } from '../../agent/src/log/logger';
import { LogVportSink, serveLogVport } from '../../agent/src/log/vport';
import type { Listener } from '../../agent/src/transport/listen';
import { tempDir } from '../helpers/agent-process';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function connect(p: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p, () => resolve(s));
    s.once('error', reject);
    closers.push(() => s.destroy());
  });
}

function readUntil(socket: net.Socket, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${JSON.stringify(seen)}`)), timeoutMs);
    const onData = (c: Buffer) => {
      seen += c.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(seen);
      }
    };
    socket.on('data', onData);
  });
}

describe('logger', () => {
  it('writes JSON lines with level, msg, fields, and filters by level', () => {
    const lines: string[] = [];
    const sink: LogSink = { write: (l) => lines.push(l) };
    const log = Logger.create('info', [sink]).child({ subsystem: 'test' });
    log.debug('hidden');
    log.info('shown', { container_id: 'c1', error: new Error('boom') });
    log.setLevel('debug');
    log.debug('now shown');
    expect(lines).toHaveLength(2);
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({ level: 'info', msg: 'shown', subsystem: 'test', container_id: 'c1', name: 'kata-agent', error: { message: 'boom' } });
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
  });

  it('a broken sink does not stop logging to the others', () => {
    const lines: string[] = [];
    const log = Logger.create('info', [{ write: () => { throw new Error('EPIPE'); } }, { write: (l) => lines.push(l) }]);
    log.info('still logged');
    expect(lines).toHaveLength(1);
  });
});

describe('log vport', () => {
  it('buffers lines until the host reader connects, then streams them', async () => {
    const sock = path.join(tempDir('logv-'), 'log.sock');
    const sink = new LogVportSink();
    const log = Logger.create('info', [sink]);
    log.info('before connect 1');
    log.info('before connect 2');
    const listener: Listener = await serveLogVport(`unix://${sock}`, sink, {});
    closers.push(() => listener.close());
    const reader = await connect(sock);
    const early = await readUntil(reader, /before connect 2.*\n/);
    expect(early.split('\n').filter(Boolean).map((l) => JSON.parse(l).msg)).toEqual(['before connect 1', 'before connect 2']);
    log.info('after connect');
    expect(await readUntil(reader, /after connect/)).toContain('"level":"info"');
  });

  it('keeps at most about 1 MiB while nobody reads, and says how many lines it dropped', async () => {
    const sock = path.join(tempDir('logv-'), 'log.sock');
    const sink = new LogVportSink();
    const log = Logger.create('info', [sink]);
    for (let i = 0; i < 20_000; i++) log.info('filler line', { i, pad: 'x'.repeat(100) });
    const listener = await serveLogVport(`unix://${sock}`, sink, {});
    closers.push(() => listener.close());
    const reader = await connect(sock);
    const text = await readUntil(reader, /"i":19999/);
    const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ msg: 'log lines dropped while no reader was connected' });
    expect(lines[0].dropped + lines.length - 1).toBe(20_000);
    expect(text.length).toBeLessThan(1.2 * (1 << 20));
  });
});

describe('debug console on a socket', () => {
  it('gives each connection its own shell on a terminal', async () => {
    const sock = path.join(tempDir('dbg-'), 'console.sock');
    const listener = await serveDebugConsole(`unix://${sock}`, Logger.create('error', []), {});
    closers.push(() => listener.close());
    const a = await connect(sock);
    const b = await connect(sock);
    a.write('echo "A-$((20+22))"; tty\n');
    b.write('echo "B-$$"\n');
    const outA = await readUntil(a, /A-42[\s\S]*\/dev\/pts\/\d+/);
    expect(outA).toMatch(/\/dev\/pts\/\d+/);
    const outB = await readUntil(b, /B-\d+/);
    expect(outB).not.toContain('A-42');
    a.write('exit\n');
    await new Promise<void>((resolve) => a.once('close', () => resolve()));
  });
});
