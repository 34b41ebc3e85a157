// Fixed PCI places for extra disks, named by Kata's PCI path, so a guest agent finds a disk by
// the same string a runtime would send as Storage.source: "05" is slot 5 on the root bus,
// "02/00" is slot 0 behind a PCI bridge at root slot 2 (Kata's q35 layout: its hot-plugged
// disks sit behind pci-bridge-0 at slot 2).
import type { ExtraDisk } from './boot-options';

export interface DiskPciPlace {
  /** Root-bus slot of the PCI bridge the disk sits behind; absent: the disk is on the root bus. */
  bridgeSlot?: number;
  slot: number;
}

// q35: slot 0 is the host bridge, 1f the ICH9 LPC/SMBus functions.
const ROOT_SLOT_MAX = 0x1e;
const BRIDGE_SLOT_MAX = 0x1f;

export function parseDiskPciPath(text: string): DiskPciPlace {
  const m = /^([0-9a-fA-F]{2})(?:\/([0-9a-fA-F]{2}))?$/.exec(text);
  const first = m ? parseInt(m[1]!, 16) : NaN;
  const second = m?.[2] !== undefined ? parseInt(m[2], 16) : undefined;
  if (!m || first < 1 || first > ROOT_SLOT_MAX || (second !== undefined && second > BRIDGE_SLOT_MAX)) {
    throw new Error(`disk PCI path "${text}": want "SS" (root slot 01-1e) or "BB/SS" (bridge at root slot BB, disk at its slot SS), in hex`);
  }
  return second === undefined ? { slot: first } : { bridgeSlot: first, slot: second };
}

const bridgeId = (slot: number) => `pci-bridge-${slot}`;
const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * The PCI bridges the disks' paths need. They must come before any device QEMU places on its
 * own, which would otherwise take their slots first.
 */
export function pciBridgeArgs(disks: readonly ExtraDisk[], machine: 'microvm' | 'q35'): string[] {
  const placed = disks.filter((d) => d.pciPath !== undefined);
  if (placed.length === 0) return [];
  if (machine !== 'q35') throw new Error(`disk ${placed[0]!.path}: a PCI path needs the q35 machine (microvm has no PCI bus)`);
  const bridges = new Set<number>();
  const rootSlots = new Set<number>();
  const bridgeSlots = new Set<string>();
  for (const disk of placed) {
    const place = parseDiskPciPath(disk.pciPath!);
    const key = `${place.bridgeSlot ?? 'root'}/${place.slot}`;
    if (bridgeSlots.has(key)) throw new Error(`disk ${disk.path}: PCI path ${disk.pciPath} is given to another disk too`);
    bridgeSlots.add(key);
    if (place.bridgeSlot === undefined) rootSlots.add(place.slot);
    else bridges.add(place.bridgeSlot);
  }
  const clash = [...bridges].find((s) => rootSlots.has(s));
  if (clash !== undefined) throw new Error(`disk PCI paths: root slot ${clash.toString(16)} is both a bridge and a disk`);
  return [...bridges].sort((a, b) => a - b).flatMap((slot, i) => [
    '-device',
    `pci-bridge,id=${bridgeId(slot)},bus=pcie.0,addr=${hex(slot)},chassis_nr=${i + 1},shpc=off`,
  ]);
}

/** The bus/addr properties of a disk's virtio-blk device ('' when QEMU picks the place). */
export function diskPciProperties(disk: ExtraDisk): string {
  if (disk.pciPath === undefined) return '';
  const place = parseDiskPciPath(disk.pciPath);
  const bus = place.bridgeSlot === undefined ? 'pcie.0' : bridgeId(place.bridgeSlot);
  return `,bus=${bus},addr=${hex(place.slot)}`;
}
