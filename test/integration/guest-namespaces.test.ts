// UpdateEphemeralMounts and RemoveStaleVirtiofsShareMounts doing real mounts, and the CPU
// hotplug wait woken by a real kernel uevent, as root, each scenario in a child process inside
// its own private mount and network namespaces (`unshare -m -n --propagation private`): the
// host's mounts and network devices are never touched.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../agent/src/ttrpc/status';
import { prepareScenarios, type ScenarioRunner } from '../helpers/ns-scenarios';
import { notRootReason, skipUnlessAvailable } from '../helpers/requirement';

let scenarios: ScenarioRunner | undefined;
const scenario = (name: string, ...args: string[]) => scenarios!.run(name, ...args);

describe.skipIf(skipUnlessAvailable(notRootReason()))('guest services in private mount and network namespaces', () => {
  beforeAll(async () => {
    scenarios = await prepareScenarios(path.join(__dirname, 'guest-ns-runner.ts'), ['-m', '-n', '--propagation', 'private'], 'guest-ns-');
  });
  afterAll(() => scenarios?.dispose());

  it('UpdateEphemeralMounts remounts a tmpfs with the new size and keeps its files; a bad list changes nothing', async () => {
    const r = await scenario('ephemeral-resize');
    expect(r.before).toContain('size=1024k');
    expect(r.mixed).toMatchObject({ code: Code.FAILED_PRECONDITION, message: expect.stringContaining('is not a tmpfs mount') });
    expect(r.notEphemeral).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('"local"') });
    expect(r.afterFailures).toContain('size=1024k');
    expect(r.after).toContain('size=4096k');
    expect(r.fileKept).toBe('data');
  });

  it('RemoveStaleVirtiofsShareMounts unmounts only share mounts whose source is gone', async () => {
    const r = await scenario('stale-share');
    expect(r.rootBefore).toMatch(/\/\/deleted$/);
    expect(r.removed).toHaveLength(1);
    expect(r.removed[0]).toMatch(/shared\/containers\/c1\/etc-config$/);
    expect(r.goneMounted).toBe(false);
    expect(r.liveMounted).toBe(true);
    expect(r.outsideMounted).toBe(true); // stale, but not under the share: not ours to touch
    expect(r.again).toEqual([]);
  });

  it('a kernel uevent wakes a sysfs wait that no directory watch covers (the real /sys path)', async () => {
    const r = await scenario('uevent-wakes-sysfs-wait');
    expect(r.result).toBe('seen');
    expect(r.ms).toBeLessThan(5_000); // woken by the uevent, long before the 10 s deadline
  });

  it('without the uevent listener the same wait only ends at its deadline', async () => {
    const r = await scenario('no-uevent-waits-for-deadline');
    expect(r.result).toBe('seen');
    expect(r.waitedMs).toBeGreaterThanOrEqual(200);
  });

  it('OnlineCPUMem works with the uevent listener on and closes it', async () => {
    const r = await scenario('online-cpus-with-uevents');
    expect(r).toEqual({ online: 2, cpu1: '1' });
  });
});
