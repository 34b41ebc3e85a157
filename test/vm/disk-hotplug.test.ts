// A container rootfs hot-plugged the way Kata's runtime does it on q35 (block_device_driver =
// "virtio-blk"): the VM boots with Kata's empty pci-bridge-0 at root slot 2, the runtime sends
// CreateContainer with a "blk" storage naming the PCI path where the disk will appear ("02/01"),
// and only then hot-plugs the disk over QMP (blockdev-add + device_add of virtio-blk-pci on the
// bridge). The agent must wait for the device (agent.hotplug_timeout), mount it and run the
// container from it; after RemoveContainer the disk is unplugged again. A CreateContainer naming a path where nothing appears fails with
// DEADLINE_EXCEEDED naming that path.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, type Message } from '../../agent/client/agent-client';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import { hotplugVirtioBlk, qemuArgs, unplugVirtioBlk, type BootOptions, type VmHandle } from '../../image-builder/src/qemu';
import { skipUnlessAvailable } from '../helpers/requirement';
import { buildAgentImage, bootAgent, consoleRun } from './agent-guest';
import { CALL_MS, DISK_ORIGIN, blkContainerRequest, buildContainerDisk, readStdoutToEof, sandboxRequest } from './container-guest';
import { KERNEL_BUILD_TIMEOUT_MS, qemuMissingReason, testKernel } from './vm-fixture';

const skipReason = qemuMissingReason();
const BOOT_MS = 240_000;
const CID = 'hotplug-c';
const LOST_CID = 'lost-c';
/** Where Kata's driver puts its first hot-plugged block device: slot 1 on the bridge at root slot 2. */
const HOTPLUG_PCI_PATH = '02/01';
/** A slot on the same bridge where nothing is ever plugged. */
const EMPTY_PCI_PATH = '02/02';
/** Seconds the agent waits for a device; the TCG guest needs more than Kata's default 3 s. */
const HOTPLUG_TIMEOUT_S = 30;
const BRIDGE_SYSFS = '/sys/devices/pci0000:00/0000:00:02.0';

/** The container prints what only the hot-plugged disk holds, then exits 7. */
const INIT_SCRIPT = 'cat /etc/rootfs-origin; echo "root=$(busybox awk \'$2 == "/" {print $3}\' /proc/mounts)"; exit 7';

describe('Kata\'s bridges on the QEMU command line (pciBridges)', () => {
  const base: BootOptions = { kernel: '/k/vmlinux', media: { kind: 'image', image: '/r.img', attach: 'nvdimm' }, machine: 'q35' };
  const devices = (opts: Partial<BootOptions>, machine: 'q35' | 'microvm' = 'q35') => {
    const args = qemuArgs({ opts: { ...base, machine, ...opts }, accel: 'tcg', machine, channel: { kind: 'serial', socketPath: '/t/a.sock' }, imageBytes: 4096 });
    return args.flatMap((a, i) => (a === '-device' ? [args[i + 1]!] : []));
  };

  it('puts Kata\'s pci-bridge-0 at root slot 2 before any other device, as its QEMU driver does', () => {
    const list = devices({ pciBridges: 2 });
    expect(list.slice(0, 2)).toEqual([
      'pci-bridge,bus=pcie.0,id=pci-bridge-0,chassis_nr=1,shpc=off,addr=2,io-reserve=4k,mem-reserve=1m,pref64-reserve=1m',
      'pci-bridge,bus=pcie.0,id=pci-bridge-1,chassis_nr=2,shpc=off,addr=3,io-reserve=4k,mem-reserve=1m,pref64-reserve=1m',
    ]);
    expect(list.filter((d) => d.startsWith('pci-bridge'))).toHaveLength(2);
  });

  it('a cold-plugged disk behind slot 2 uses Kata\'s bridge; another bridge gets the next chassis', () => {
    const list = devices({ pciBridges: 1, disks: [{ path: '/c.img', pciPath: '02/00' }, { path: '/d.img', pciPath: '05/00' }] });
    expect(list.filter((d) => d.startsWith('pci-bridge'))).toEqual([
      'pci-bridge,bus=pcie.0,id=pci-bridge-0,chassis_nr=1,shpc=off,addr=2,io-reserve=4k,mem-reserve=1m,pref64-reserve=1m',
      'pci-bridge,id=pci-bridge-5,bus=pcie.0,addr=0x5,chassis_nr=2,shpc=off',
    ]);
    expect(list).toContain('virtio-blk-pci,drive=disk0,bus=pci-bridge-0,addr=0x0');
    expect(list).toContain('virtio-blk-pci,drive=disk1,bus=pci-bridge-5,addr=0x0');
  });

  it('refuses bridges on microvm and a disk on a Kata bridge\'s root slot', () => {
    expect(() => devices({ pciBridges: 1 }, 'microvm')).toThrow(/need the q35 machine/);
    expect(() => devices({ pciBridges: 1, disks: [{ path: '/c.img', pciPath: '02' }] })).toThrow(/both a bridge and a disk/);
    expect(() => devices({ pciBridges: -1 })).toThrow(/pciBridges -1/);
  });
});

describe.skipIf(skipUnlessAvailable(skipReason))('a container disk hot-plugged onto Kata\'s q35 PCI topology', () => {
  let kernel: KernelArtifacts;
  let dir: string;
  let diskImage: string;
  let vm: VmHandle;
  let client: AgentClient;
  const call = <T extends Record<string, unknown> = Record<string, unknown>>(method: string, req: Message, timeoutMs = CALL_MS) =>
    client.request<T>(method, req, { timeoutMs });

  const withConsole = async (body: () => Promise<void>) => {
    try {
      await body();
    } catch (err) {
      process.stderr.write(`--- guest console (last 80 lines) ---\n${vm?.consoleLines.slice(-80).join('\n')}\n`);
      throw err;
    }
  };

  /**
   * Resolves once the agent (PID 1) watches the bridge's sysfs directory, i.e. it is waiting for a
   * device behind the bridge: the agent logs no line when it starts waiting for a block device,
   * but its inotify watches are listed in /proc/1/fdinfo (inode and device in hex).
   */
  const WATCHES_BRIDGE =
    `ino=$(busybox printf %x $(busybox stat -c %i ${BRIDGE_SYSFS})); dev=$(busybox printf %x $(busybox stat -c %d ${BRIDGE_SYSFS})); ` +
    'busybox cat /proc/1/fdinfo/* 2>/dev/null | busybox grep -q "inotify .*ino:$ino sdev:$dev "';
  const agentWatchesBridge = () => consoleRun(vm, `until ${WATCHES_BRIDGE}; do busybox sleep 0.1; done`, 'WATCHING', CALL_MS);

  beforeAll(async () => {
    const started = Date.now();
    kernel = await testKernel();
    dir = await mkdtemp(join(tmpdir(), 'vm-hotplug-'));
    const image = await buildAgentImage(dir);
    diskImage = await buildContainerDisk(dir);
    vm = await bootAgent(kernel, image, {
      qmp: true,
      pciBridges: 1, // Kata's default_bridges
      extraCmdline: [`agent.hotplug_timeout=${HOTPLUG_TIMEOUT_S}`],
      timeoutMs: BOOT_MS,
      readyTimeoutMs: 90_000,
    });
    client = await AgentClient.connect(`serial://${vm.agentSocketPath}`, { timeoutMs: 20_000 });
    process.stderr.write(`[disk-hotplug] images built and agent ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }, KERNEL_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    client?.close();
    await vm?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('boots with Kata\'s bridge at root slot 2 and nothing behind it', async () => {
    const buses = await vm.qmp<Array<{ devices: Array<{ slot: number; qdev_id: string; pci_bridge?: { devices?: unknown[] } }> }>>('query-pci');
    const bridge = buses.flatMap((b) => b.devices).find((d) => d.qdev_id === 'pci-bridge-0');
    expect(bridge).toMatchObject({ slot: 2 });
    expect(bridge!.pci_bridge?.devices ?? []).toEqual([]);
    // The sandbox as a virtio-blk runtime without a shared filesystem sends it: shm only.
    const sandbox = sandboxRequest();
    await call('CreateSandbox', { ...sandbox, storages: (sandbox.storages as Message[]).filter((s) => s.driver !== '9p') });
  }, BOOT_MS);

  it('CreateContainer sent before the disk exists waits for it; the container then runs from the disk', async () => {
    await withConsole(async () => {
      expect(await consoleRun(vm, WATCHES_BRIDGE, 'IDLE', CALL_MS)).toBe('1'); // nobody waits yet
      const sent = Date.now();
      let settled = false;
      const created = call('CreateContainer', blkContainerRequest(CID, ['sh', '-c', INIT_SCRIPT], HOTPLUG_PCI_PATH)).finally(() => {
        settled = true;
      });
      created.catch(() => {}); // awaited below
      // A second container whose disk never comes, waiting at the same time.
      const lost = call('CreateContainer', blkContainerRequest(LOST_CID, ['true'], EMPTY_PCI_PATH)).catch((e: unknown) => e);

      expect(await agentWatchesBridge()).toBe('0');
      const waiting = Date.now();
      expect(settled).toBe(false);
      const plugged = await hotplugVirtioBlk(vm.qmp, { file: diskImage, driveId: `drive-${CID}`.slice(0, 31), numQueues: 1, bridges: 1 });
      const hotplugged = Date.now();
      expect(plugged).toMatchObject({ pciPath: HOTPLUG_PCI_PATH, bridgeId: 'pci-bridge-0', slot: 1, deviceId: `virtio-drive-${CID}` });
      expect(settled).toBe(false); // still waiting when the device came

      await created;
      const mounted = Date.now();
      await call('StartContainer', { container_id: CID });
      expect(await readStdoutToEof(client, CID, CID)).toBe(`${DISK_ORIGIN}\nroot=ext4\n`);
      expect((await call<{ status: number }>('WaitProcess', { container_id: CID, exec_id: CID })).status).toBe(7);
      await call('RemoveContainer', { container_id: CID, timeout: 30 });
      const done = Date.now();
      // Unmounted, so the guest lets the disk go when asked (ACPI eject), as Kata then does.
      await unplugVirtioBlk(vm.monitor!, plugged);
      const unplugged = Date.now();
      const bus = await vm.qmp<Array<{ devices: Array<{ qdev_id: string; pci_bridge?: { devices?: unknown[] } }> }>>('query-pci');
      expect(bus.flatMap((b) => b.devices).find((d) => d.qdev_id === 'pci-bridge-0')!.pci_bridge?.devices ?? []).toEqual([]);

      const err = await lost;
      const failed = Date.now();
      expect(err).toMatchObject({ code: 4 }); // DEADLINE_EXCEEDED
      expect((err as Error).message).toContain(`PCI path ${EMPTY_PCI_PATH}`);
      // The agent really waited the whole hotplug timeout for it.
      expect(failed - sent).toBeGreaterThanOrEqual(HOTPLUG_TIMEOUT_S * 1000);

      const s = (a: number, b: number) => `${((b - a) / 1000).toFixed(1)} s`;
      process.stderr.write(
        `[disk-hotplug] agent waiting ${s(sent, waiting)} after CreateContainer; QMP hotplug ${s(waiting, hotplugged)}; ` +
          `device found and mounted ${s(hotplugged, mounted)} after device_add; start..remove ${s(mounted, done)}; unplug ${s(done, unplugged)}; ` +
          `wrong path failed after ${s(sent, failed)}\n`,
      );
    });
  }, BOOT_MS);

  it('DestroySandbox powers the guest off and QEMU exits 0', async () => {
    await withConsole(async () => {
      await call('DestroySandbox', {});
      client.close();
      expect(await vm.exited).toMatchObject({ code: 0, timedOut: false, panicked: false });
    });
  }, BOOT_MS);
});
