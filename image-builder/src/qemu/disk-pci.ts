// Fixed PCI places for extra disks, named by Kata's PCI path, so a guest agent finds a disk by
// the same string a runtime would send as Storage.source: "05" is slot 5 on the root bus,
// "02/00" is slot 0 behind a PCI bridge at root slot 2. Also Kata's own bridges
// (BootOptions.pciBridges, its default_bridges): empty pci-bridges at root slots 2, 3, ... with
// ids pci-bridge-0, -1, ..., where Kata's QEMU driver hot-plugs its block devices (README.md,
// "Kata's hotplug topology").
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

/** Root slot of Kata's first bridge (slots 0 and 1 are the platform's on x86). */
export const KATA_BRIDGE_FIRST_SLOT = 2;
/** Kata's name for its bridge number `index` ("pci-bridge-0" at root slot 2). */
export const kataBridgeId = (index: number) => `pci-bridge-${index}`;

const isKataBridgeSlot = (slot: number, kataBridges: number) =>
  slot >= KATA_BRIDGE_FIRST_SLOT && slot < KATA_BRIDGE_FIRST_SLOT + kataBridges;
// A bridge only a cold-plugged disk asked for is named by its slot.
const bridgeId = (slot: number, kataBridges: number) =>
  isKataBridgeSlot(slot, kataBridges) ? kataBridgeId(slot - KATA_BRIDGE_FIRST_SLOT) : `pci-bridge-${slot}`;
const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * Kata's bridge number `index` as its QEMU driver puts it on q35's command line: chassis index+1,
 * SHPC off (hotplug goes through ACPI), and the I/O and memory windows a hot-plugged device needs
 * reserved up front, since firmware reserves none behind a bridge without SHPC.
 */
function kataBridgeDevice(index: number): string {
  const slot = KATA_BRIDGE_FIRST_SLOT + index;
  return `pci-bridge,bus=pcie.0,id=${kataBridgeId(index)},chassis_nr=${index + 1},shpc=off,addr=${slot.toString(16)},io-reserve=4k,mem-reserve=1m,pref64-reserve=1m`;
}

/**
 * Kata's bridges (`kataBridges` of them) and the PCI bridges the disks' paths need. They must
 * come before any device QEMU places on its own, which would otherwise take their slots first.
 */
export function pciBridgeArgs(disks: readonly ExtraDisk[], machine: 'microvm' | 'q35', kataBridges = 0): string[] {
  if (!Number.isInteger(kataBridges) || kataBridges < 0 || kataBridges > ROOT_SLOT_MAX - KATA_BRIDGE_FIRST_SLOT + 1) {
    throw new Error(`pciBridges ${kataBridges}: want an integer from 0 to ${ROOT_SLOT_MAX - KATA_BRIDGE_FIRST_SLOT + 1}`);
  }
  if (kataBridges > 0 && machine !== 'q35') throw new Error('pciBridges: PCI bridges need the q35 machine (microvm has no PCI bus)');
  const kata = Array.from({ length: kataBridges }, (_, i) => ['-device', kataBridgeDevice(i)]).flat();
  const placed = disks.filter((d) => d.pciPath !== undefined);
  if (placed.length === 0) return kata;
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
  const clash = [...bridges, ...Array.from({ length: kataBridges }, (_, i) => KATA_BRIDGE_FIRST_SLOT + i)].find((s) => rootSlots.has(s));
  if (clash !== undefined) throw new Error(`disk PCI paths: root slot ${clash.toString(16)} is both a bridge and a disk`);
  // Chassis numbers must be unique: Kata's bridges hold 1..kataBridges.
  const own = [...bridges].filter((slot) => !isKataBridgeSlot(slot, kataBridges)).sort((a, b) => a - b);
  return [
    ...kata,
    ...own.flatMap((slot, i) => [
      '-device',
      `pci-bridge,id=${bridgeId(slot, kataBridges)},bus=pcie.0,addr=${hex(slot)},chassis_nr=${kataBridges + i + 1},shpc=off`,
    ]),
  ];
}

/** The bus/addr properties of a disk's virtio-blk device ('' when QEMU picks the place). */
export function diskPciProperties(disk: ExtraDisk, kataBridges = 0): string {
  if (disk.pciPath === undefined) return '';
  const place = parseDiskPciPath(disk.pciPath);
  const bus = place.bridgeSlot === undefined ? 'pcie.0' : bridgeId(place.bridgeSlot, kataBridges);
  return `,bus=${bus},addr=${hex(place.slot)}`;
}
