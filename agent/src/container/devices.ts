// CreateContainer.devices: disks the runtime hot-plugged for a container (not as its rootfs but
// as devices inside it). The host sent its own major/minor in spec.linux.devices; the guest
// finds the device node (waiting as for storages), reads the guest's numbers, and puts them in
// the spec: the linux.devices entry at container_path, the resource rules that named the host
// numbers, and an allow rule so the container's device cgroup lets it through.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Device } from '../proto/messages.generated';
import { type DeviceWaitOptions, waitForDevNode, waitForScsiDisk, waitForVirtioBlkByPciPath } from '../storage/block-devices';
import { Code, RpcError } from '../ttrpc/status';
import type { OciJson } from './oci-json';

/** agent.proto Device (fields may be left out by callers that build one). */
export type KataDevice = Partial<Device>;

export interface GuestDevice {
  containerPath: string;
  /** The node in the guest's /dev. */
  guestPath: string;
  type: 'b' | 'c';
  major: bigint;
  minor: bigint;
  fileMode: number;
}

const SUPPORTED = 'blk (PCI path in id, or vm_path), mmioblk, nvdimm (vm_path), scsi ("<id>:<lun>" in id)';

function invalid(d: KataDevice, why: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, `device ${d.id || d.vm_path || '?'} (${d.type || 'no type'}): ${why}`);
}

/** Waits for the device's node in the guest, as Kata's handlers of each type find it. */
function guestNodeOf(d: KataDevice, wait: DeviceWaitOptions): Promise<string> {
  switch (d.type) {
    case 'blk':
    case 'virtio-blk':
      // virtio-blk on PCI: the id is its PCI path; a runtime may name the node directly instead.
      if (d.id) return waitForVirtioBlkByPciPath(d.id, wait);
      return waitForDevNode(d.vm_path!, wait);
    case 'mmioblk':
    case 'nvdimm':
      if (!d.vm_path) throw invalid(d, 'vm_path is empty');
      return waitForDevNode(d.vm_path, wait);
    case 'scsi':
      if (!d.id) throw invalid(d, 'id (the SCSI address) is empty');
      return waitForScsiDisk(d.id, wait);
    default:
      throw new RpcError(Code.UNIMPLEMENTED, `device ${d.id || d.vm_path} of type "${d.type}": not supported (supported: ${SUPPORTED})`);
  }
}

// Linux dev_t encoding (glibc's gnu_dev_major/minor), on the 64-bit value.
function majorOf(rdev: bigint): bigint {
  return ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
}
function minorOf(rdev: bigint): bigint {
  return (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
}

async function resolveDevice(d: KataDevice, wait: DeviceWaitOptions): Promise<GuestDevice> {
  if (!d.type) throw invalid(d, 'type is empty');
  if (!d.id && !d.vm_path) throw invalid(d, 'both id and vm_path are empty');
  if (!d.container_path || !path.isAbsolute(d.container_path)) throw invalid(d, `container_path "${d.container_path ?? ''}" is not an absolute path`);
  const guestPath = await guestNodeOf(d, wait);
  const st = await stat(guestPath, { bigint: true });
  const type = st.isBlockDevice() ? 'b' : st.isCharacterDevice() ? 'c' : undefined;
  if (!type) throw invalid(d, `${guestPath} is not a device node`);
  return { containerPath: d.container_path, guestPath, type, major: majorOf(st.rdev), minor: minorOf(st.rdev), fileMode: Number(st.mode & 0o777n) };
}

/** Every device's guest node and numbers; they are awaited together (one hotplug timeout). */
export async function resolveDevices(devices: KataDevice[], wait: DeviceWaitOptions): Promise<GuestDevice[]> {
  const seen = new Set<string>();
  for (const d of devices) {
    if (d.container_path && seen.has(d.container_path)) throw invalid(d, `a second device for ${d.container_path}`);
    if (d.container_path) seen.add(d.container_path);
  }
  return Promise.all(devices.map((d) => resolveDevice(d, wait)));
}

const key = (type: unknown, major: unknown, minor: unknown): string => `${String(type)}:${String(major ?? '')}:${String(minor ?? '')}`;

/** Puts the guest's numbers into `spec` (changed in place). */
export function applyGuestDevices(spec: OciJson, devices: GuestDevice[]): void {
  if (devices.length === 0) return;
  const linux: OciJson = (spec.linux ??= {});
  const specDevices: OciJson[] = (linux.devices ??= []);
  // host (type, major, minor) -> the guest device, for the resource rules below
  const renumbered = new Map<string, GuestDevice>();
  for (const dev of devices) {
    const entry = specDevices.find((e) => e.path === dev.containerPath);
    if (entry) {
      const hostKey = key(entry.type ?? dev.type, entry.major, entry.minor);
      if (renumbered.has(hostKey)) throw new RpcError(Code.INVALID_ARGUMENT, `devices ${dev.containerPath} and ${renumbered.get(hostKey)!.containerPath} carry the same host numbers ${hostKey}`);
      renumbered.set(hostKey, dev);
      entry.type ??= dev.type;
      entry.major = dev.major;
      entry.minor = dev.minor;
    } else {
      // The runtime did not list it: add it as the guest has it (Kata would refuse the request).
      specDevices.push({ path: dev.containerPath, type: dev.type, major: dev.major, minor: dev.minor, fileMode: dev.fileMode, uid: 0, gid: 0 });
    }
  }
  const resources: OciJson = (linux.resources ??= {});
  const rules: OciJson[] = (resources.devices ??= []);
  for (const rule of rules) {
    const dev = renumbered.get(key(rule.type, rule.major, rule.minor));
    if (!dev) continue;
    rule.major = dev.major;
    rule.minor = dev.minor;
  }
  for (const dev of devices) rules.push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access: 'rwm' });
}
