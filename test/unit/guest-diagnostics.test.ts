// GetDiagnosticData: the agent's recent log lines (a ring of the last N) and the kernel log
// read from /dev/kmsg without blocking.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diagnosticData, readKernelLog, RecentLogLines } from '../../agent/src/guest/diagnostics';
import { Logger } from '../../agent/src/log/logger';
import { Code } from '../../agent/src/ttrpc/status';
import { notRootReason, skipUnlessAvailable } from '../helpers/requirement';

describe('agent log tail', () => {
  it('keeps the last N lines in order and filters by container id', () => {
    const ring = new RecentLogLines(3);
    const log = Logger.create('debug', [ring]);
    for (let i = 1; i <= 5; i++) log.info(`line ${i}`, { container_id: i % 2 ? 'odd' : 'even' });
    expect(ring.lines().map((l) => JSON.parse(l).msg)).toEqual(['line 3', 'line 4', 'line 5']);
    const all = diagnosticData({ log_type: '' }, { recentLogs: ring });
    expect(all.endsWith('\n')).toBe(true);
    expect(all.trim().split('\n')).toHaveLength(3);
    const odd = diagnosticData({ log_type: 'agent', container_id: 'odd' }, { recentLogs: ring });
    expect(odd.trim().split('\n').map((l) => JSON.parse(l).msg)).toEqual(['line 3', 'line 5']);
  });

  it('refuses an unknown log type and reports an unreadable kernel log as UNAVAILABLE', () => {
    const ring = new RecentLogLines();
    expect(() => diagnosticData({ log_type: 'journal' }, { recentLogs: ring })).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT }));
    expect(() => diagnosticData({ log_type: 'kernel' }, { recentLogs: ring, devKmsg: '/nonexistent/kmsg' })).toThrow(
      expect.objectContaining({ code: Code.UNAVAILABLE, message: expect.stringContaining('/nonexistent/kmsg') }),
    );
  });
});

describe.skipIf(skipUnlessAvailable(existsSync('/dev/kmsg') ? notRootReason() : 'no /dev/kmsg'))('kernel log', () => {
  it('reads the ring from /dev/kmsg as "[seconds] message" lines and returns at its end', () => {
    const lines = readKernelLog();
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines.slice(0, 20)) expect(l).toMatch(/^\[\s*\d+\.\d{6}\] /);
    const text = diagnosticData({ log_type: 'dmesg' }, { recentLogs: new RecentLogLines() });
    expect(text).toContain(lines.at(-1)!.slice(0, 14));
  });
});
