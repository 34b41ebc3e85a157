// Hot-plugging a virtio-blk disk over QMP the way Kata's QEMU driver does with
// block_device_driver = "virtio-blk": a blockdev-add for the file, then a device_add of
// virtio-blk-pci on the first free slot (from 1) of the first of Kata's bridges that has one
// (BootOptions.pciBridges). The PCI path "BB/SS" (bridge's root slot / device's slot) is what
// Kata then sends the agent as the Storage.source of a "blk" storage. See README.md,
// "Kata's hotplug topology".
import { statSync } from 'node:fs';
import { KATA_BRIDGE_FIRST_SLOT, kataBridgeId } from './disk-pci';
import type { QmpMonitor } from './qmp';

/** What runs a QMP command: VmHandle.qmp. */
export type QmpRunner = <T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs?: number) => Promise<T>;

export interface HotplugBlockOptions {
  /** Host file or block device. */
  file: string;
  /** Kata's drive id: "drive-" + the device's id, cut to 31 characters; the QEMU device is "virtio-" + it. */
  driveId: string;
  readOnly?: boolean;
  /** Kata's block_device_aio; its default io_uring. */
  aio?: 'threads' | 'native' | 'io_uring';
  /** virtio-blk queues; Kata passes the VM's vCPU count. */
  numQueues: number;
  /** How many of Kata's bridges the VM was booted with (BootOptions.pciBridges). */
  bridges: number;
}

export interface HotpluggedBlock {
  driveId: string;
  deviceId: string;
  bridgeId: string;
  slot: number;
  /** Kata's PCI path of the disk: "02/01" for the first disk on the first bridge. */
  pciPath: string;
}

/** Slots on a bridge Kata's driver hands out: 1..30 (types.PCIBridgeMaxCapacity; slot 0 is never used). */
const BRIDGE_FIRST_DEVICE_SLOT = 1;
const BRIDGE_LAST_DEVICE_SLOT = 30;

interface PciDeviceInfo {
  slot: number;
  qdev_id: string;
  pci_bridge?: { devices?: PciDeviceInfo[] };
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** The slots in use behind each of Kata's bridges, as QEMU reports them (query-pci). */
async function usedBridgeSlots(qmp: QmpRunner, bridges: number): Promise<Map<string, Set<number>>> {
  const buses = await qmp<Array<{ devices: PciDeviceInfo[] }>>('query-pci');
  const rootDevices = buses.flatMap((b) => b.devices);
  const used = new Map<string, Set<number>>();
  for (let i = 0; i < bridges; i++) {
    const id = kataBridgeId(i);
    const bridge = rootDevices.find((d) => d.qdev_id === id);
    if (!bridge?.pci_bridge) throw new Error(`hotplug: QEMU has no PCI bridge ${id} (boot with pciBridges >= ${i + 1})`);
    used.set(id, new Set((bridge.pci_bridge.devices ?? []).map((d) => d.slot)));
  }
  return used;
}

/** Attaches `opts.file` as a virtio-blk disk behind Kata's bridges; resolves once QEMU has the device. */
export async function hotplugVirtioBlk(qmp: QmpRunner, opts: HotplugBlockOptions): Promise<HotpluggedBlock> {
  if (opts.bridges < 1) throw new Error('hotplug: the VM has no Kata bridge to put the disk behind (BootOptions.pciBridges)');
  const used = await usedBridgeSlots(qmp, opts.bridges);
  let place: { index: number; slot: number } | undefined;
  for (let index = 0; index < opts.bridges && !place; index++) {
    const taken = used.get(kataBridgeId(index))!;
    for (let slot = BRIDGE_FIRST_DEVICE_SLOT; slot <= BRIDGE_LAST_DEVICE_SLOT; slot++) {
      if (!taken.has(slot)) {
        place = { index, slot };
        break;
      }
    }
  }
  if (!place) throw new Error(`hotplug ${opts.file}: no free slot on ${opts.bridges} bridge(s)`);

  // Kata's blockdev-add: a raw node over a "file" (regular file) or "host_device" protocol node.
  const protocol = statSync(opts.file).isFile() ? 'file' : 'host_device';
  await qmp('blockdev-add', {
    driver: 'raw',
    'read-only': opts.readOnly ?? false,
    file: { driver: protocol, filename: opts.file, aio: opts.aio ?? 'io_uring' },
    'node-name': opts.driveId,
  });
  const bridgeId = kataBridgeId(place.index);
  const deviceId = `virtio-${opts.driveId}`;
  try {
    // Kata's device_add (ExecutePCIDeviceAdd): addr is the slot as two hex digits, the drive is
    // shared (share-rw), num-queues a string, an empty romfile; disable-modern only when set.
    await qmp('device_add', {
      id: deviceId,
      driver: 'virtio-blk-pci',
      drive: opts.driveId,
      addr: hex2(place.slot),
      bus: bridgeId,
      'share-rw': true,
      'num-queues': String(opts.numQueues),
      romfile: '',
    });
  } catch (err) {
    await qmp('blockdev-del', { 'node-name': opts.driveId }).catch(() => {});
    throw err;
  }
  const bridgeSlot = KATA_BRIDGE_FIRST_SLOT + place.index;
  return { driveId: opts.driveId, deviceId, bridgeId, slot: place.slot, pciPath: `${hex2(bridgeSlot)}/${hex2(place.slot)}` };
}

/**
 * Detaches a disk hotplugVirtioBlk() attached, as Kata does after the container is gone:
 * device_del, then (once the guest has released it and QEMU reports DEVICE_DELETED) blockdev-del.
 */
export async function unplugVirtioBlk(monitor: QmpMonitor, plugged: HotpluggedBlock, timeoutMs = 60_000): Promise<void> {
  const before = monitor.events.length;
  await monitor.execute('device_del', { id: plugged.deviceId });
  await monitor.waitForEvent(
    'DEVICE_DELETED',
    timeoutMs,
    (e) => monitor.events.indexOf(e) >= before && (e.data as { device?: string } | undefined)?.device === plugged.deviceId,
  );
  await monitor.execute('blockdev-del', { 'node-name': plugged.driveId });
}
