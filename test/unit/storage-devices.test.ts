// Finding hot-plugged disks in a sysfs-shaped tree: the layout a q35 guest has for a virtio-blk
// disk behind Kata's PCI bridge, built in a temp dir with real directories and symlinks.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { devNodeFor, waitForDevNode, waitForScsiDisk, waitForVirtioBlkByPciPath } from '../../agent/src/storage/block-devices';
import { parsePciPath } from '../../agent/src/storage/pci-path';
import { Code, RpcError } from '../../agent/src/ttrpc/status';
import { rpcRejection } from '../helpers/rpc-rejection';

let root: string;
let sys: string;
let dev: string;

const ROOT_BUS = 'devices/pci0000:00';

/** A PCI function under the root bus (path of BDFs from the root), linked from bus/pci/devices. */
function addPciFunction(bdfs: string[]): string {
  const dir = path.join(sys, ROOT_BUS, ...bdfs);
  mkdirSync(dir, { recursive: true });
  const link = path.join(sys, 'bus/pci/devices', bdfs[bdfs.length - 1]!);
  mkdirSync(path.dirname(link), { recursive: true });
  symlinkSync(path.relative(path.dirname(link), dir), link);
  return dir;
}

function addBridge(bdfs: string[], secondaryBus: string): string {
  const dir = addPciFunction(bdfs);
  mkdirSync(path.join(dir, 'pci_bus', secondaryBus), { recursive: true });
  return dir;
}

function addVirtioBlock(functionDir: string, virtio: string, name: string): void {
  mkdirSync(path.join(functionDir, virtio, 'block', name), { recursive: true });
}

function addDevNode(name: string): void {
  writeFileSync(path.join(dev, name), '');
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'storage-sysfs-'));
  sys = path.join(root, 'sys');
  dev = path.join(root, 'dev');
  mkdirSync(path.join(sys, ROOT_BUS), { recursive: true });
  mkdirSync(dev);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('Kata PCI paths', () => {
  it('parses slot[.function] elements from the root bus down', () => {
    expect(parsePciPath('02/00')).toEqual([
      { slot: 2, fn: 0 },
      { slot: 0, fn: 0 },
    ]);
    expect(parsePciPath('1f.7')).toEqual([{ slot: 0x1f, fn: 7 }]);
  });

  it.each(['', '20', '00.8', '02//00', 'xy', '02/00/'])('rejects "%s" with INVALID_ARGUMENT', (text) => {
    let caught: unknown;
    try {
      parsePciPath(text);
    } catch (err) {
      caught = err;
    }
    expect((caught as RpcError).code).toBe(Code.INVALID_ARGUMENT);
  });
});

describe('virtio-blk disk by PCI path', () => {
  it('follows the bridge at 02.0 to the disk at 00.0 on bus 01', async () => {
    addBridge(['0000:00:02.0'], '0000:01');
    const disk = addPciFunction(['0000:00:02.0', '0000:01:00.0']);
    addVirtioBlock(disk, 'virtio2', 'vda');
    addDevNode('vda');
    // A disk on another slot of the same bridge must not be taken.
    addVirtioBlock(addPciFunction(['0000:00:02.0', '0000:01:01.0']), 'virtio3', 'vdb');
    addDevNode('vdb');
    await expect(waitForVirtioBlkByPciPath('02/00', { sysRoot: sys, devRoot: dev, timeoutMs: 2000 })).resolves.toBe(path.join(dev, 'vda'));
    await expect(waitForVirtioBlkByPciPath('02/01', { sysRoot: sys, devRoot: dev, timeoutMs: 2000 })).resolves.toBe(path.join(dev, 'vdb'));
  });

  it('finds a disk directly on the root bus, and infers a bridge bus without pci_bus/', async () => {
    addVirtioBlock(addPciFunction(['0000:00:05.0']), 'virtio0', 'vdc');
    addDevNode('vdc');
    await expect(waitForVirtioBlkByPciPath('05', { sysRoot: sys, devRoot: dev, timeoutMs: 2000 })).resolves.toBe(path.join(dev, 'vdc'));

    addPciFunction(['0000:00:03.0']);
    addVirtioBlock(addPciFunction(['0000:00:03.0', '0000:02:04.0']), 'virtio1', 'vdd');
    addDevNode('vdd');
    await expect(waitForVirtioBlkByPciPath('03/04', { sysRoot: sys, devRoot: dev, timeoutMs: 2000 })).resolves.toBe(path.join(dev, 'vdd'));
  });

  it('waits for a disk hot-plugged after the wait began', async () => {
    addBridge(['0000:00:02.0'], '0000:01');
    let waiting = false;
    const found = waitForVirtioBlkByPciPath('02/00', {
      sysRoot: sys,
      devRoot: dev,
      timeoutMs: 10_000,
      onWaiting: () => {
        waiting = true;
        // What the kernel does on hotplug: the PCI function, its virtio device, the block
        // device, and devtmpfs's node.
        addVirtioBlock(addPciFunction(['0000:00:02.0', '0000:01:00.0']), 'virtio4', 'vde');
        addDevNode('vde');
      },
    });
    await expect(found).resolves.toBe(path.join(dev, 'vde'));
    expect(waiting).toBe(true);
  });

  it('waits for the /dev node when sysfs already shows the disk', async () => {
    addBridge(['0000:00:02.0'], '0000:01');
    addVirtioBlock(addPciFunction(['0000:00:02.0', '0000:01:00.0']), 'virtio4', 'vdf');
    const found = waitForVirtioBlkByPciPath('02/00', {
      sysRoot: sys,
      devRoot: dev,
      timeoutMs: 10_000,
      onWaiting: () => addDevNode('vdf'),
    });
    await expect(found).resolves.toBe(path.join(dev, 'vdf'));
  });

  it('fails with DEADLINE_EXCEEDED naming the device and the timeout when it never appears', async () => {
    addBridge(['0000:00:02.0'], '0000:01');
    const started = Date.now();
    const err = await rpcRejection(waitForVirtioBlkByPciPath('02/00', { sysRoot: sys, devRoot: dev, timeoutMs: 150 }));
    const elapsed = Date.now() - started;
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(err.message).toContain('PCI path 02/00');
    expect(err.message).toContain('150 ms');
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(2000);
  });

  it('stops waiting with CANCELLED when the call is aborted', async () => {
    const abort = new AbortController();
    const p = waitForVirtioBlkByPciPath('02/00', { sysRoot: sys, devRoot: dev, timeoutMs: 10_000, signal: abort.signal, onWaiting: () => abort.abort() });
    expect((await rpcRejection(p)).code).toBe(Code.CANCELLED);
  });
});

describe('SCSI disks and /dev paths', () => {
  it('finds the disk of SCSI address id:lun on host 0 channel 0', async () => {
    mkdirSync(path.join(sys, 'bus/scsi/devices/0:0:0:1/block/sdb'), { recursive: true });
    addDevNode('sdb');
    await expect(waitForScsiDisk('0:1', { sysRoot: sys, devRoot: dev, timeoutMs: 2000 })).resolves.toBe(path.join(dev, 'sdb'));
    expect((await rpcRejection(waitForScsiDisk('0:0:1', { sysRoot: sys, devRoot: dev, timeoutMs: 100 }))).code).toBe(Code.INVALID_ARGUMENT);
  });

  it('waits for a /dev node (mmioblk, nvdimm) and refuses paths outside /dev', async () => {
    const p = waitForDevNode('/dev/pmem0', { sysRoot: sys, devRoot: dev, timeoutMs: 10_000, onWaiting: () => addDevNode('pmem0') });
    await expect(p).resolves.toBe(path.join(dev, 'pmem0'));
    const missing = await rpcRejection(waitForDevNode('/dev/vdz', { sysRoot: sys, devRoot: dev, timeoutMs: 100 }));
    expect(missing.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(missing.message).toContain('/dev/vdz');
    expect(() => devNodeFor('/dev/../etc/passwd', dev)).toThrow(/not a path under \/dev/);
    expect(() => devNodeFor('vda', dev)).toThrow(/not a path under \/dev/);
  });
});
