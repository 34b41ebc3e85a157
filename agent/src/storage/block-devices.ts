// Finding the block device node of a storage: a virtio-blk disk by PCI path, a SCSI disk by
// its "id:lun" address, or a /dev path given as is; each awaited up to the hotplug timeout.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DriverContext } from './driver';
import { invalidStorage } from './errors';
import { type Probe, waitForDevice } from './device-wait';
import { parsePciPath, pciRootBusDir, resolvePciPath } from './pci-path';

export interface DeviceWaitOptions {
  sysRoot: string;
  devRoot: string;
  timeoutMs: number;
  signal?: AbortSignal;
  onWaiting?: () => void;
}

export function waitOptionsFrom(ctx: DriverContext): DeviceWaitOptions {
  return { sysRoot: ctx.sysRoot, devRoot: ctx.devRoot, timeoutMs: ctx.hotplugTimeoutMs, signal: ctx.signal };
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The node under devRoot of the single block device in `<dir>/block/`, once devtmpfs made it. */
function blockNodeIn(dir: string, devRoot: string): Probe<string> {
  const blockDir = path.join(dir, 'block');
  const names = listDir(blockDir);
  if (names.length === 0) return { waitOn: [blockDir, devRoot] };
  const node = path.join(devRoot, names.sort()[0]!);
  return existsSync(node) ? { found: node } : { waitOn: [devRoot] };
}

/** /dev/vdX of the virtio-blk disk at a Kata PCI path ("02/00"). */
export async function waitForVirtioBlkByPciPath(pciPathText: string, opts: DeviceWaitOptions): Promise<string> {
  const pciPath = parsePciPath(pciPathText);
  const probe = (): Probe<string> => {
    const resolved = resolvePciPath(opts.sysRoot, pciPath);
    if ('missing' in resolved) return { waitOn: [resolved.missing, opts.devRoot] };
    // The virtio device under the PCI function: virtio<N>/block/<name>.
    const virtio = listDir(resolved.deviceDir).filter((n) => /^virtio\d+$/.test(n));
    if (virtio.length === 0) return { waitOn: [resolved.deviceDir, opts.devRoot] };
    const waitOn: string[] = [];
    for (const v of virtio) {
      const result = blockNodeIn(path.join(resolved.deviceDir, v), opts.devRoot);
      if ('found' in result) return result;
      waitOn.push(...result.waitOn);
    }
    return { waitOn };
  };
  return waitForDevice({
    what: `virtio-blk device at PCI path ${pciPathText} (under ${pciRootBusDir(opts.sysRoot)})`,
    probe,
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    onWaiting: opts.onWaiting,
  });
}

/** Kata's SCSI address "<scsi id>:<lun>" on host 0, channel 0. */
export function parseScsiAddress(address: string): { id: number; lun: number } {
  const m = /^(\d+):(\d+)$/.exec(address);
  if (!m) throw invalidStorage(`SCSI address "${address}" is not "<scsi id>:<lun>"`);
  return { id: Number(m[1]), lun: Number(m[2]) };
}

/** /dev/sdX of the SCSI disk at "id:lun": /sys/bus/scsi/devices/0:0:<id>:<lun>/block/sdX. */
export async function waitForScsiDisk(address: string, opts: DeviceWaitOptions): Promise<string> {
  const { id, lun } = parseScsiAddress(address);
  requestScsiScan(opts.sysRoot, id, lun);
  const deviceDir = path.join(opts.sysRoot, 'bus', 'scsi', 'devices', `0:0:${id}:${lun}`);
  return waitForDevice<string>({
    what: `SCSI disk ${address} (${deviceDir})`,
    probe: () => (existsSync(deviceDir) ? blockNodeIn(deviceDir, opts.devRoot) : { waitOn: [deviceDir, opts.devRoot] }),
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    onWaiting: opts.onWaiting,
  });
}

// Ask every SCSI host to scan for the target; a disk plugged before the controller was ready
// only appears after a scan. Failures are not fatal: waiting reports the missing disk.
function requestScsiScan(sysRoot: string, id: number, lun: number): void {
  const hostsDir = path.join(sysRoot, 'class', 'scsi_host');
  for (const host of listDir(hostsDir)) {
    try {
      writeFileSync(path.join(hostsDir, host, 'scan'), `0 ${id} ${lun}`);
    } catch {
      // not scannable (or a fake tree): nothing to do
    }
  }
}

/** A device given as "/dev/<name>" (mmioblk, nvdimm, blk with a path): its node under devRoot. */
export function devNodeFor(source: string, devRoot: string): string {
  if (!source.startsWith('/dev/') || source.split('/').includes('..') || source.length <= '/dev/'.length) {
    throw invalidStorage(`device "${source}" is not a path under /dev`);
  }
  return path.join(devRoot, source.slice('/dev/'.length));
}

export async function waitForDevNode(source: string, opts: DeviceWaitOptions): Promise<string> {
  const node = devNodeFor(source, opts.devRoot);
  return waitForDevice<string>({
    what: `device ${source}`,
    probe: () => (existsSync(node) ? { found: node } : { waitOn: [path.dirname(node)] }),
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    onWaiting: opts.onWaiting,
  });
}
