// Issue 7's guest services in a real guest: our kernel and DAX image, the bundled agent as PID 1,
// driven over ttRPC on the virtio-serial channel. What only a real kernel can show: the clock
// set by SetGuestDateTime, a seed taken by the kernel's RNDADDENTROPY/RNDRESEEDCRNG, a vCPU hot-added through QEMU's
// monitor and brought online by OnlineCPUMem, swap enabled by AddSwap/AddSwapPath, and the
// values GetGuestDetails reads from sysfs. One boot serves every check (TCG boots are costly).
import { spawnSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import { AGENT_VERSION } from '../../agent/src/service/health';
import { Code, type RpcError } from '../../agent/src/ttrpc/status';
import type { VmHandle } from '../../image-builder/src/qemu';
import { agentImageFixture, bootAgent } from './agent-guest';
import { KERNEL_BUILD_TIMEOUT_MS, qemuMissingReason, testKernel } from './vm-fixture';
import { skipUnlessAvailable } from '../helpers/requirement';

const skipReason = qemuMissingReason();
const BOOT_MS = 300_000;
const CALL = { timeoutMs: 30_000 };
// Per check: generous, as TCG under a loaded host can be many times slower than here.
const STEP_MS = 180_000;
const SWAP_FILE_MIB = 8;
const SWAP_DISK_MIB = 8;

/** Runs a shell line on the debug console; resolves with what it printed as `<key>=<value>`. */
let consoleSeq = 0;
async function consoleValue(vm: VmHandle, shellValue: string): Promise<string> {
  const key = `V${++consoleSeq}X`;
  vm.writeConsole(`echo ${key}="${shellValue}"\n`);
  const m = await vm.waitForConsole(new RegExp(`^${key}=(.*)$`), 30_000);
  return m[1]!.trim();
}

/** An ext4 disk holding one fully allocated (no holes: swapon refuses those) file "swapfile". */
function makeSwapFileDisk(dir: string): string {
  const tree = join(dir, 'swapfs');
  mkdirSync(tree);
  // mke2fs -d leaves all-zero blocks as holes (swapon refuses those): fill with a non-zero byte,
  // then format it on the host, as Kata's runtime does; the agent formats only all-zero areas.
  writeFileSync(join(tree, 'swapfile'), Buffer.alloc(SWAP_FILE_MIB << 20, 0x5a));
  const mkswap = spawnSync('mkswap', ['-p', '4096', join(tree, 'swapfile')], { encoding: 'utf8' });
  if (mkswap.status !== 0) throw new Error(`mkswap: ${mkswap.error?.message ?? mkswap.stderr}`);
  // A file that holds data and is not swap: AddSwapPath must refuse it and leave it alone.
  writeFileSync(join(tree, 'datafile'), Buffer.alloc(SWAP_FILE_MIB << 20, 0x5a));
  const img = join(dir, 'swapfs.img');
  const r = spawnSync('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', tree, img, `${2 * SWAP_FILE_MIB + 8}M`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mkfs.ext4 ${img}: ${r.error?.message ?? r.stderr}`);
  return img;
}

function expectRpcError(err: unknown, code: Code, message: RegExp): void {
  expect((err as RpcError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
}

interface HotpluggableCpu {
  type: string;
  'vcpus-count': number;
  props: Record<string, number>;
  'qom-path'?: string;
}

describe.skipIf(skipUnlessAvailable(skipReason))('guest services in a real guest (agent as PID 1, TCG)', () => {
  let vm: VmHandle;
  let client: AgentClient;
  let disposeImage: () => Promise<void> = async () => {};
  let dir: string;

  beforeAll(async () => {
    const kernel = await testKernel();
    let image: string;
    ({ image, dispose: disposeImage } = await agentImageFixture());
    dir = await mkdtemp(join(tmpdir(), 'vm-guest-svc-'));
    const swapDisk = join(dir, 'swapdisk.img');
    writeFileSync(swapDisk, '');
    truncateSync(swapDisk, SWAP_DISK_MIB << 20);
    vm = await bootAgent(kernel, image, {
      cpus: 1,
      maxCpus: 2,
      qmp: true,
      // disk0: ext4 with the swap file (AddSwapPath); disk1: a bare disk (AddSwap).
      disks: [{ path: makeSwapFileDisk(dir) }, { path: swapDisk }],
      // Under TCG a hot-added vCPU can take seconds to show up in sysfs.
      extraCmdline: ['agent.hotplug_timeout=60'],
      timeoutMs: BOOT_MS,
      readyTimeoutMs: 120_000,
    });
    client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
  }, KERNEL_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    client?.close();
    await vm?.stop();
    await disposeImage();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, STEP_MS);

  it('GetGuestDetails reports the guest kernel memory block size, probe support and the agent', async () => {
    const details = await client.request<{
      mem_block_size_bytes: unknown;
      support_mem_hotplug_probe: boolean;
      agent_details: { version: string; init_daemon: boolean; storage_handlers: string[]; device_handlers: string[]; supports_seccomp: boolean };
    }>('GetGuestDetails', { mem_block_size: true, mem_hotplug_probe: true }, CALL);
    const blockHex = await consoleValue(vm, '$(cat /sys/devices/system/memory/block_size_bytes)');
    expect(blockHex).toMatch(/^[0-9a-f]+$/);
    expect(BigInt(String(details.mem_block_size_bytes))).toBe(BigInt(`0x${blockHex}`));
    expect(BigInt(String(details.mem_block_size_bytes))).toBeGreaterThan(0n);
    const probe = await consoleValue(vm, '$([ -e /sys/devices/system/memory/probe ] && echo yes || echo no)');
    expect(details.support_mem_hotplug_probe).toBe(probe === 'yes');
    expect(details.agent_details.init_daemon).toBe(true);
    expect(details.agent_details.version).toBe(AGENT_VERSION);
    expect(details.agent_details.storage_handlers).toEqual(expect.arrayContaining(['blk', 'virtio-fs', 'ephemeral', 'local']));
    const seccomp = await consoleValue(vm, '$([ -e /proc/sys/kernel/seccomp/actions_avail ] && echo yes || echo no)');
    expect(details.agent_details.supports_seccomp).toBe(seccomp === 'yes');
  }, STEP_MS);

  // The kernel shows no trace of a reseed: entropy_avail already reads its 256-bit maximum at
  // boot (virtio-rng feeds the pool) and RNDRESEEDCRNG logs nothing. What the guest does show
  // is that both ioctls (RNDADDENTROPY, RNDRESEEDCRNG) are accepted by a real kernel: a wrong
  // request number, size or missing CAP_SYS_ADMIN would fail the call.
  it('ReseedRandomDev feeds the seed to the kernel and refuses an empty one', async () => {
    await client.request('ReseedRandomDev', { data: Buffer.alloc(4096, 0xa5) }, CALL);
    const err = await client.request('ReseedRandomDev', { data: Buffer.alloc(0) }, CALL).catch((e: unknown) => e);
    expectRpcError(err, Code.INVALID_ARGUMENT, /ReseedRandomDev: no seed data/);
  }, STEP_MS);

  it('OnlineCPUMem brings a vCPU hot-added through the QEMU monitor online', async () => {
    const cpus = await vm.qmp<HotpluggableCpu[]>('query-hotpluggable-cpus');
    const free = cpus.find((c) => c['qom-path'] === undefined);
    expect(free, JSON.stringify(cpus)).toBeDefined();
    expect(await consoleValue(vm, '$(cat /sys/devices/system/cpu/online)')).toBe('0');

    await vm.qmp('device_add', { driver: free!.type, id: 'hotcpu1', ...free!.props });
    // QEMU's refusals come back with its error class and text.
    await expect(vm.qmp('device_add', { driver: free!.type, id: 'hotcpu1', ...free!.props })).rejects.toThrow(/^QMP device_add: GenericError: .+/);
    // The guest acknowledges the ACPI hotplug (_OST) once it has created cpu1; the kernel leaves
    // it offline (onlining is user space's job, here the agent's).
    await vm.monitor!.waitForEvent('ACPI_DEVICE_OST', 60_000, (e) => (e.data as { info?: { device?: string } }).info?.device === 'hotcpu1');
    expect(await consoleValue(vm, '$(cat /sys/devices/system/cpu/cpu1/online)')).toBe('0');
    // Kata's runtime asks for the total it wants online (newCPUs): with 1 online, 1 is a no-op.
    await client.request('OnlineCPUMem', { wait: true, nb_cpus: 1, cpu_only: true }, CALL);
    expect(await consoleValue(vm, '$(cat /sys/devices/system/cpu/cpu1/online)')).toBe('0');
    await client.request('OnlineCPUMem', { wait: true, nb_cpus: 2, cpu_only: true }, { timeoutMs: 90_000 });
    expect(await consoleValue(vm, '$(cat /sys/devices/system/cpu/cpu1/online)')).toBe('1');
    expect(await consoleValue(vm, '$(cat /sys/devices/system/cpu/online)')).toBe('0-1');
    expect(await consoleValue(vm, '$(busybox nproc)')).toBe('2');
  }, STEP_MS);

  it('AddSwapPath enables a host-formatted swap file and refuses a file that holds data; AddSwap formats and enables a bare disk at a PCI path', async () => {
    // The file lives on the ext4 disk, mounted from the debug console (whichever vd* it is) where
    // Kata mounts block volumes: AddSwapPath takes files in Kata's guest tree only (confinement.ts).
    const mounted = await consoleValue(vm, '$(mkdir -p /run/kata-containers/sandbox/storage/swapfs; for d in /dev/vda /dev/vdb; do mount -t ext4 $d /run/kata-containers/sandbox/storage/swapfs 2>/dev/null && echo $d && break; done)');
    expect(mounted).toMatch(/^\/dev\/vd[ab]$/);
    await client.request('AddSwapPath', { path: '/run/kata-containers/sandbox/storage/swapfs/swapfile' }, CALL);
    const data = await client.request('AddSwapPath', { path: '/run/kata-containers/sandbox/storage/swapfs/datafile' }, CALL).catch((e: unknown) => e);
    expectRpcError(data, Code.FAILED_PRECONDITION, /AddSwapPath: \/run\/kata-containers\/sandbox\/storage\/swapfs\/datafile is not a swap area and holds data \(a non-zero byte at offset 0\)/);
    expect(await consoleValue(vm, '$(busybox od -An -tx1 -N4 -j4086 /run/kata-containers/sandbox/storage/swapfs/datafile | busybox tr -d " ")')).toBe('5a5a5a5a');

    // disk1's PCI slot, as the runtime knows it: QEMU's qdev behind the drive, its "addr"
    // property (devfn = slot << 3 | function).
    const blocks = await vm.qmp<Array<{ device: string; qdev?: string }>>('query-block');
    const qdev = blocks.find((b) => b.device === 'disk1')?.qdev;
    expect(qdev, JSON.stringify(blocks)).toBeDefined();
    const devfn = await vm.qmp<number>('qom-get', { path: qdev!.replace(/\/virtio-backend$/, ''), property: 'addr' });
    expect(devfn & 7).toBe(0);
    const slot = devfn >> 3;
    await client.request('AddSwap', { PCIPath: [slot] }, CALL);

    const swaps = (await consoleValue(vm, '$(busybox tr "\\n" ";" < /proc/swaps)')).split(';');
    const file = swaps.find((l) => l.startsWith('/run/kata-containers/sandbox/storage/swapfs/swapfile '));
    // The bare disk is whichever vd* the ext4 one is not.
    const bareDisk = mounted === '/dev/vda' ? '/dev/vdb' : '/dev/vda';
    const disk = swaps.find((l) => l.startsWith(`${bareDisk} `));
    expect(file, swaps.join('\n')).toMatch(/\sfile\s+8188\s/); // 8 MiB less the header page, in KiB
    expect(disk, swaps.join('\n')).toMatch(/\spartition\s+8188\s/);

    const relative = await client.request('AddSwapPath', { path: 'swapfile' }, CALL).catch((e: unknown) => e);
    expectRpcError(relative, Code.INVALID_ARGUMENT, /AddSwapPath: path "swapfile" is not absolute/);
    const outside = await client.request('AddSwapPath', { path: '/run/kata-containers/../swapfile' }, CALL).catch((e: unknown) => e);
    expectRpcError(outside, Code.PERMISSION_DENIED, /AddSwapPath: guest path confinement: swap "\/run\/kata-containers\/..\/swapfile" \(resolves to \/run\/swapfile\)/);
    const badSlot = await client.request('AddSwap', { PCIPath: [40] }, CALL).catch((e: unknown) => e);
    expectRpcError(badSlot, Code.INVALID_ARGUMENT, /AddSwap: PCI path element 40/);
  }, STEP_MS);

  it('SetGuestDateTime sets the guest clock', async () => {
    const target = 4_102_444_800; // 2100-01-01T00:00:00Z
    await client.request('SetGuestDateTime', { Sec: target, Usec: 0 }, CALL);
    const now = Number(await consoleValue(vm, '$(busybox date +%s)'));
    expect(now).toBeGreaterThanOrEqual(target);
    expect(now).toBeLessThan(target + 120);
    const err = await client.request('SetGuestDateTime', { Sec: 0, Usec: 0 }, CALL).catch((e: unknown) => e);
    expectRpcError(err, Code.INVALID_ARGUMENT, /SetGuestDateTime: Sec 0 is outside/);
  }, STEP_MS);
});
