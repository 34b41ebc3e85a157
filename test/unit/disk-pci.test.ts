// Extra disks at a Kata PCI path: the QEMU placement the guest agent's blk storage relies on
// (booted for real in test/vm/container-vm.test.ts).
import { describe, expect, it } from 'vitest';
import type { BootOptions } from '../../image-builder/src/qemu/boot-options';
import { parseDiskPciPath } from '../../image-builder/src/qemu/disk-pci';
import { qemuArgs } from '../../image-builder/src/qemu/qemu-args';

const base: BootOptions = { kernel: '/k/vmlinux', media: { kind: 'image', image: '/r.img', attach: 'virtio-blk' }, machine: 'q35' };

const devices = (args: string[]) => args.flatMap((a, i) => (a === '-device' ? [args[i + 1]!] : []));

describe('disk PCI paths', () => {
  it('parses "SS" and "BB/SS" and refuses slots the machine cannot give', () => {
    expect(parseDiskPciPath('02/00')).toEqual({ bridgeSlot: 2, slot: 0 });
    expect(parseDiskPciPath('0a')).toEqual({ slot: 10 });
    for (const bad of ['', '00', '1f', '2', '02/20', '02/00/01', 'zz']) {
      expect(() => parseDiskPciPath(bad), bad).toThrow(/disk PCI path/);
    }
  });

  it('puts the bridge before every device QEMU places itself, and the disk behind it', () => {
    const args = qemuArgs({
      opts: { ...base, disks: [{ path: '/c.img', pciPath: '02/00' }, { path: '/d.img', pciPath: '05' }, { path: '/e.img' }] },
      accel: 'tcg',
      machine: 'q35',
      channel: { kind: 'serial', socketPath: '/t/a.sock' },
    });
    const list = devices(args);
    expect(list[0]).toBe('pci-bridge,id=pci-bridge-2,bus=pcie.0,addr=0x2,chassis_nr=1,shpc=off');
    expect(list).toContain('virtio-blk-pci,drive=disk0,bus=pci-bridge-2,addr=0x0');
    expect(list).toContain('virtio-blk-pci,drive=disk1,bus=pcie.0,addr=0x5');
    expect(list).toContain('virtio-blk-pci,drive=disk2');
  });

  it('refuses a PCI path on microvm, a path given twice, and a root slot that is also a bridge', () => {
    const boot = (machine: 'q35' | 'microvm', disks: BootOptions['disks']) =>
      qemuArgs({ opts: { ...base, machine, disks }, accel: 'tcg', machine, channel: { kind: 'none' } });
    expect(() => boot('microvm', [{ path: '/c.img', pciPath: '02/00' }])).toThrow(/needs the q35 machine/);
    expect(() => boot('q35', [{ path: '/c.img', pciPath: '02/00' }, { path: '/d.img', pciPath: '02/00' }])).toThrow(/another disk/);
    expect(() => boot('q35', [{ path: '/c.img', pciPath: '02/00' }, { path: '/d.img', pciPath: '02' }])).toThrow(/both a bridge and a disk/);
  });
});
