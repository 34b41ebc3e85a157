// Kata's PCI path: the slot/function of a device on each bus from the root bus down, joined
// by "/" ("02/00" = slot 2 on the root bus, a bridge, then slot 0 on the bus behind it). Each
// element is "SS" or "SS.F" in hex; slot 0..1f, function 0..7.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { invalidStorage } from './errors';

export interface PciSlotFunction {
  slot: number;
  fn: number;
}

const ELEMENT_RE = /^([0-9a-fA-F]{1,2})(?:\.([0-9a-fA-F]))?$/;
const BUS_RE = /^[0-9a-f]{4}:[0-9a-f]{2}$/;
const BDF_RE = /^([0-9a-f]{4}:[0-9a-f]{2}):[0-9a-f]{2}\.[0-7]$/;

export function parsePciPath(text: string): PciSlotFunction[] {
  if (typeof text !== 'string' || text === '') throw invalidStorage('PCI path is empty');
  return text.split('/').map((element) => {
    const m = ELEMENT_RE.exec(element);
    const slot = m ? parseInt(m[1]!, 16) : NaN;
    const fn = m?.[2] !== undefined ? parseInt(m[2], 16) : 0;
    if (!m || slot > 0x1f || fn > 7) {
      throw invalidStorage(`PCI path "${text}": element "${element}" is not a slot[.function] (slot 00-1f, function 0-7)`);
    }
    return { slot, fn };
  });
}

export function formatSlotFunction(sf: PciSlotFunction): string {
  return `${sf.slot.toString(16).padStart(2, '0')}.${sf.fn.toString(16)}`;
}

/** The sysfs directory of the root bus the PCI path starts from (x86 q35/pc and arm virt). */
export function pciRootBusDir(sysRoot: string): string {
  return path.join(sysRoot, 'devices', 'pci0000:00');
}

/** The bus a bridge exposes: its pci_bus/ entry, or failing that the bus its children sit on. */
export function busBehindBridge(bridgeDir: string): string | undefined {
  const busDir = path.join(bridgeDir, 'pci_bus');
  if (existsSync(busDir)) {
    const buses = readdirSync(busDir).filter((name) => BUS_RE.test(name));
    if (buses.length === 1) return buses[0];
    if (buses.length > 1) throw invalidStorage(`PCI bridge ${bridgeDir}: expected one bus in pci_bus/, found ${buses.join(', ')}`);
  }
  const childBuses = new Set<string>();
  for (const name of existsSync(bridgeDir) ? readdirSync(bridgeDir) : []) {
    const m = BDF_RE.exec(name);
    if (m) childBuses.add(m[1]!);
  }
  return childBuses.size === 1 ? [...childBuses][0] : undefined;
}

/**
 * Walks the PCI path from the root bus. Returns the sysfs directory of the final device, or
 * the directory where the walk stopped because the next device (or bridge bus) is not there yet.
 */
export function resolvePciPath(sysRoot: string, pciPath: PciSlotFunction[]): { deviceDir: string } | { missing: string } {
  let dir = pciRootBusDir(sysRoot);
  let bus = '0000:00';
  for (let i = 0; i < pciPath.length; i++) {
    dir = path.join(dir, `${bus}:${formatSlotFunction(pciPath[i]!)}`);
    if (!existsSync(dir)) return { missing: dir };
    if (i === pciPath.length - 1) break;
    const next = busBehindBridge(dir);
    if (next === undefined) return { missing: path.join(dir, 'pci_bus') };
    bus = next;
  }
  return { deviceDir: dir };
}
