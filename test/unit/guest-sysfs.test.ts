// Guest details, CPU/memory onlining and memory probing against fake sysfs trees in a temp dir
// (files the test flips the way the kernel would), and guest details against the real /sys.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { guestDetails, readMemoryBlockSize } from '../../agent/src/guest/guest-details';
import { probeMemory } from '../../agent/src/guest/mem-hotplug';
import { countOnlineCpus, onlineCpuMem, onlineCpus } from '../../agent/src/guest/online-cpu-mem';
import { Code } from '../../agent/src/ttrpc/status';

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function fakeSys(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'fake-sys-'));
  temps.push(root);
  return root;
}

function put(root: string, rel: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
}

const read = (root: string, rel: string) => readFileSync(path.join(root, rel), 'utf8');

/** A CPU the way hotplug makes it: the directory with its attributes appears at once. */
function hotAddCpu(root: string, n: number): void {
  const staging = path.join(root, `.staging-cpu${n}`);
  mkdirSync(staging);
  writeFileSync(path.join(staging, 'online'), '0\n');
  renameSync(staging, path.join(root, 'devices/system/cpu', `cpu${n}`));
}

/** Resolves when `file` holds `text`, woken by its directory's change events (no polling). */
function fileBecomes(file: string, text: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): boolean => readFileSync(file, 'utf8') === text;
    const w = watch(path.dirname(file), () => {
      if (check()) {
        w.close();
        resolve();
      }
    });
    if (check()) {
      w.close();
      resolve();
    }
  });
}

describe('GetGuestDetails', () => {
  it('reads the memory block size (hex) and probe support from sysfs, and lists what the agent handles', () => {
    const sys = fakeSys();
    put(sys, 'devices/system/memory/block_size_bytes', '8000000\n');
    const proc = fakeSys();
    put(proc, 'sys/kernel/seccomp/actions_avail', 'kill_process kill_thread trap errno user_notif trace log allow\n');
    const d = guestDetails({ mem_block_size: true, mem_hotplug_probe: true }, { sysRoot: sys, procRoot: proc, initDaemon: false, deviceHandlers: ['blk', 'scsi'] });
    expect(d.mem_block_size_bytes).toBe(String(128 << 20));
    expect(d.support_mem_hotplug_probe).toBe(false);
    expect(d.agent_details.supports_seccomp).toBe(true);
    expect(d.agent_details.init_daemon).toBe(false);
    expect(d.agent_details.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(d.agent_details.storage_handlers).toEqual(expect.arrayContaining(['blk', 'virtio-blk', 'mmioblk', 'scsi', 'nvdimm', 'virtio-fs', '9p', 'overlayfs', 'ephemeral', 'local', 'watchable-bind']));
    expect(d.agent_details.device_handlers).toEqual(['blk', 'scsi']);

    put(sys, 'devices/system/memory/probe', '');
    expect(guestDetails({ mem_hotplug_probe: true }, { sysRoot: sys, procRoot: proc }).support_mem_hotplug_probe).toBe(true);
    // Fields not asked for stay zero, as Kata's agent answers them.
    const none = guestDetails({}, { sysRoot: sys, procRoot: fakeSys() });
    expect(none.mem_block_size_bytes).toBe('0');
    expect(none.support_mem_hotplug_probe).toBe(false);
    expect(none.agent_details.supports_seccomp).toBe(false);
  });

  it('answers 0 when the kernel has no memory hotplug, and refuses a size that is not hex', () => {
    const sys = fakeSys();
    expect(readMemoryBlockSize(sys)).toBe(0n);
    expect(guestDetails({ mem_block_size: true }, { sysRoot: sys }).mem_block_size_bytes).toBe('0');
    put(sys, 'devices/system/memory/block_size_bytes', 'zz\n');
    expect(() => readMemoryBlockSize(sys)).toThrow(/not hex/);
  });

  it('matches the real /sys of this machine', () => {
    const file = '/sys/devices/system/memory/block_size_bytes';
    const d = guestDetails({ mem_block_size: true, mem_hotplug_probe: true });
    if (!existsSync(file)) expect(d.mem_block_size_bytes).toBe('0');
    else expect(BigInt(d.mem_block_size_bytes)).toBe(BigInt('0x' + readFileSync(file, 'utf8').trim()));
    expect(d.support_mem_hotplug_probe).toBe(existsSync('/sys/devices/system/memory/probe'));
    expect(d.agent_details.init_daemon).toBe(process.pid === 1);
    expect(d.agent_details.supports_seccomp).toBe(/^Seccomp:/m.test(readFileSync('/proc/self/status', 'utf8')));
  });
});

describe('OnlineCPUMem', () => {
  function cpuTree(): string {
    const sys = fakeSys();
    put(sys, 'devices/system/cpu/cpu0/topology/core_id', '0\n'); // no "online" file, like a boot CPU
    put(sys, 'devices/system/cpu/cpu1/online', '1\n');
    put(sys, 'devices/system/cpu/cpu2/online', '0\n');
    put(sys, 'devices/system/cpu/possible', '0-7\n');
    put(sys, 'devices/system/memory/memory0/online', '1\n');
    put(sys, 'devices/system/memory/memory1/online', '0\n');
    put(sys, 'devices/system/memory/memory12/online', '0\n');
    put(sys, 'devices/system/memory/block_size_bytes', '8000000\n');
    return sys;
  }

  it('counts CPUs without an "online" attribute as online, and one reading 1', () => {
    expect(countOnlineCpus(path.join(cpuTree(), 'devices/system/cpu'))).toBe(2);
  });

  it('brings nb_cpus CPUs online in total, and memory blocks; cpu_only leaves memory alone', async () => {
    const sys = cpuTree();
    // Two are online already (cpu0, cpu1): nothing to do for nb_cpus = 2.
    expect(await onlineCpuMem({ nb_cpus: 2, cpu_only: true }, { sysRoot: sys, timeoutMs: 1000 })).toEqual({ cpus: 2, memoryBlocks: 0 });
    expect(read(sys, 'devices/system/cpu/cpu2/online')).toBe('0\n');
    await onlineCpuMem({ nb_cpus: 3, cpu_only: true }, { sysRoot: sys, timeoutMs: 1000 });
    expect(read(sys, 'devices/system/cpu/cpu2/online')).toBe('1');
    expect(read(sys, 'devices/system/memory/memory1/online')).toBe('0\n');
    const done = await onlineCpuMem({ nb_cpus: 0, cpu_only: false }, { sysRoot: sys, timeoutMs: 1000 });
    expect(done.memoryBlocks).toBe(2);
    expect(read(sys, 'devices/system/memory/memory1/online')).toBe('1');
    expect(read(sys, 'devices/system/memory/memory12/online')).toBe('1');
    expect(read(sys, 'devices/system/memory/memory0/online')).toBe('1\n'); // already online: not rewritten
  });

  it('waits for hot-added CPUs to appear, onlining each as it comes', async () => {
    const sys = cpuTree();
    let settled = false;
    const p = onlineCpus(5, { sysRoot: sys, timeoutMs: 10_000 }).finally(() => (settled = true));
    // cpu2 was onlined at once; two more are awaited (the first look and the watch are synchronous).
    expect(read(sys, 'devices/system/cpu/cpu2/online')).toBe('1');
    hotAddCpu(sys, 3);
    await fileBecomes(path.join(sys, 'devices/system/cpu/cpu3/online'), '1');
    expect(settled).toBe(false);
    hotAddCpu(sys, 4);
    expect(await p).toBe(5);
    expect(read(sys, 'devices/system/cpu/cpu4/online')).toBe('1');
  });

  it('fails with DEADLINE_EXCEEDED naming how many came, when hot-added CPUs never appear', async () => {
    const sys = cpuTree();
    const err = await onlineCpus(4, { sysRoot: sys, timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: Code.DEADLINE_EXCEEDED, message: expect.stringContaining('3 of 4 CPUs online') });
  });

  it('stops waiting when the call is cancelled', async () => {
    const sys = cpuTree();
    const ac = new AbortController();
    const p = onlineCpus(5, { sysRoot: sys, timeoutMs: 60_000, signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: Code.CANCELLED });
  });

  it('refuses a bad nb_cpus and a missing cpu directory clearly', async () => {
    await expect(onlineCpuMem({ nb_cpus: -1 }, { sysRoot: fakeSys(), timeoutMs: 100 })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(onlineCpuMem({ nb_cpus: 1 }, { sysRoot: fakeSys(), timeoutMs: 100 })).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION, message: expect.stringContaining('devices/system/cpu') });
  });
});

describe('MemHotplugByProbe', () => {
  it('writes each address as 0x-hex, one write per address', () => {
    const sys = fakeSys();
    put(sys, 'devices/system/memory/probe', '');
    probeMemory(['4294967296', '4429185024', '18446744073709551615'], sys);
    expect(read(sys, 'devices/system/memory/probe')).toBe('0x1000000000x1080000000xffffffffffffffff');
  });

  it('refuses bad addresses before writing anything, and says when the kernel has no probe file', () => {
    const sys = fakeSys();
    put(sys, 'devices/system/memory/probe', '');
    expect(() => probeMemory(['4294967296', '-1'], sys)).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT }));
    expect(read(sys, 'devices/system/memory/probe')).toBe('');
    expect(() => probeMemory(['4294967296'], fakeSys())).toThrow(expect.objectContaining({ code: Code.FAILED_PRECONDITION, message: expect.stringContaining('probe') }));
  });
});
