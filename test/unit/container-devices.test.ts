// CreateContainer.devices in a sysfs/dev-shaped tree with real device nodes (mknod, as root):
// the guest node is found as for storages (PCI path, /dev path, waiting for hotplug), its
// numbers replace the host's in the spec, the device cgroup lets it through. And guest hooks
// read from a guest_hook_path tree as Kata reads them.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyGuestDevices, resolveDevices } from '../../agent/src/container/devices';
import { rewriteSpec } from '../../agent/src/container/spec-rewrite';
import { readGuestHooks } from '../../agent/src/sandbox/guest-hooks';
import { Code } from '../../agent/src/ttrpc/status';

let root: string;
let sys: string;
let dev: string;
const wait = () => ({ sysRoot: sys, devRoot: dev, timeoutMs: 2000 });

function mknod(name: string, type: 'b' | 'c', major: number, minor: number): string {
  const node = path.join(dev, name);
  execFileSync('mknod', ['-m', '0640', node, type, String(major), String(minor)]);
  return node;
}

/** A virtio-blk disk at PCI path 02/00 (behind a bridge on 00:02.0), named `name`. */
function addVirtioBlkAt0200(name: string): void {
  const bridge = path.join(sys, 'devices/pci0000:00/0000:00:02.0');
  mkdirSync(path.join(bridge, 'pci_bus/0000:01'), { recursive: true });
  mkdirSync(path.join(bridge, '0000:01:00.0/virtio3/block', name), { recursive: true });
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'container-devices-'));
  sys = path.join(root, 'sys');
  dev = path.join(root, 'dev');
  mkdirSync(path.join(sys, 'devices/pci0000:00'), { recursive: true });
  mkdirSync(dev);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('container devices', () => {
  it('blk by PCI path, mmioblk by vm_path: guest numbers in linux.devices and the cgroup rules', async () => {
    addVirtioBlkAt0200('vdb');
    mknod('vdb', 'b', 254, 16);
    mknod('vdc', 'b', 254, 32);
    const found = await resolveDevices(
      [
        { id: '02/00', type: 'blk', container_path: '/dev/xvda' },
        { vm_path: '/dev/vdc', type: 'mmioblk', container_path: '/dev/xvdb' },
      ],
      wait(),
    );
    expect(found.map((d) => [d.containerPath, d.type, d.major, d.minor])).toEqual([
      ['/dev/xvda', 'b', 254n, 16n],
      ['/dev/xvdb', 'b', 254n, 32n],
    ]);
    // The host listed /dev/xvda with its own numbers and a rule for them; /dev/xvdb not at all.
    const spec = {
      linux: {
        devices: [{ path: '/dev/xvda', type: 'b', major: 8n, minor: 0n, fileMode: 0o660 }],
        resources: { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major: 8n, minor: 0n, access: 'rw' }] },
      },
    };
    applyGuestDevices(spec, found);
    expect(spec.linux.devices).toEqual([
      { path: '/dev/xvda', type: 'b', major: 254n, minor: 16n, fileMode: 0o660 },
      { path: '/dev/xvdb', type: 'b', major: 254n, minor: 32n, fileMode: 0o640, uid: 0, gid: 0 },
    ]);
    expect(spec.linux.resources.devices).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'b', major: 254n, minor: 16n, access: 'rw' },
      { allow: true, type: 'b', major: 254n, minor: 16n, access: 'rwm' },
      { allow: true, type: 'b', major: 254n, minor: 32n, access: 'rwm' },
    ]);
  });

  it('waits for a device hot-plugged after the call, like a storage', async () => {
    const pending = resolveDevices([{ id: '02/00', type: 'blk', container_path: '/dev/data' }], { ...wait(), onWaiting: () => {
      addVirtioBlkAt0200('vdd');
      mknod('vdd', 'b', 254, 48);
    } });
    expect((await pending)[0]).toMatchObject({ guestPath: path.join(dev, 'vdd'), major: 254n, minor: 48n });
  });

  it('a device that never appears is DEADLINE_EXCEEDED naming it; bad requests are INVALID_ARGUMENT', async () => {
    await expect(resolveDevices([{ vm_path: '/dev/vdz', type: 'mmioblk', container_path: '/dev/x' }], { ...wait(), timeoutMs: 200 })).rejects.toMatchObject({
      code: Code.DEADLINE_EXCEEDED,
      message: expect.stringContaining('/dev/vdz'),
    });
    mknod('vde', 'b', 254, 64);
    const bad = [
      [{ vm_path: '/dev/vde', container_path: '/dev/x' }, Code.INVALID_ARGUMENT],
      [{ type: 'mmioblk', container_path: '/dev/x' }, Code.INVALID_ARGUMENT],
      [{ vm_path: '/dev/vde', type: 'mmioblk', container_path: 'dev/x' }, Code.INVALID_ARGUMENT],
      [{ vm_path: '/dev/../etc/passwd', type: 'mmioblk', container_path: '/dev/x' }, Code.INVALID_ARGUMENT],
      [{ id: '0000:01:00.0=02/00', type: 'vfio-pci', container_path: '/dev/vfio/1' }, Code.UNIMPLEMENTED],
    ] as const;
    for (const [d, code] of bad) await expect(resolveDevices([d], wait())).rejects.toMatchObject({ code });
    await expect(
      resolveDevices([{ vm_path: '/dev/vde', type: 'mmioblk', container_path: '/dev/x' }, { vm_path: '/dev/vde', type: 'mmioblk', container_path: '/dev/x' }], wait()),
    ).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('a second device for /dev/x') });
    writeFileSync(path.join(dev, 'plain'), '');
    await expect(resolveDevices([{ vm_path: '/dev/plain', type: 'mmioblk', container_path: '/dev/x' }], wait())).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining('is not a device node'),
    });
  });
});

describe('guest hooks', () => {
  it('executable regular files per kind, sorted, args [name, kind]; others skipped', async () => {
    const hooks = path.join(root, 'hooks');
    for (const kind of ['prestart', 'poststop']) mkdirSync(path.join(hooks, kind), { recursive: true });
    const put = (rel: string, mode: number) => {
      writeFileSync(path.join(hooks, rel), '#!/bin/sh\n');
      chmodSync(path.join(hooks, rel), mode);
    };
    put('prestart/20-second', 0o755);
    put('prestart/10-first', 0o700);
    put('prestart/30-not-executable', 0o644);
    symlinkSync(path.join(hooks, 'prestart/10-first'), path.join(hooks, 'prestart/40-symlink'));
    mkdirSync(path.join(hooks, 'prestart/50-dir'));
    put('poststop/cleanup', 0o755);
    const found = await readGuestHooks(hooks);
    expect(found).toEqual({
      prestart: [
        { path: path.join(hooks, 'prestart/10-first'), args: ['10-first', 'prestart'] },
        { path: path.join(hooks, 'prestart/20-second'), args: ['20-second', 'prestart'] },
      ],
      poststop: [{ path: path.join(hooks, 'poststop/cleanup'), args: ['cleanup', 'poststop'] }],
    });
    // they replace whatever hooks the host sent
    const spec = rewriteSpec({ hooks: { prestart: [{ path: '/host/hook' }] }, process: { args: ['x'] } }, { containerId: 'c', rootfs: '/r', namespaces: {}, guestHooks: found });
    expect(spec.hooks).toEqual(found);
    expect(await readGuestHooks(path.join(root, 'nothing-here'))).toEqual({});
    await expect(readGuestHooks('relative/hooks')).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
  });
});
