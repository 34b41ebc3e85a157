import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSerialPort } from '../../agent/src/transport/serial';

describe('virtio-serial port lookup', () => {
  it('finds /dev/vportNpM by its name in sysfs when udev made no /dev/virtio-ports link', () => {
    const sys = mkdtempSync(path.join(tmpdir(), 'vports-'));
    for (const [port, name] of [['vport1p1', 'org.qemu.guest_agent.0'], ['vport2p1', 'agent.channel.0']]) {
      mkdirSync(path.join(sys, port));
      writeFileSync(path.join(sys, port, 'name'), `${name}\n`);
    }
    expect(resolveSerialPort('/dev/virtio-ports/agent.channel.0', sys)).toBe('/dev/vport2p1');
    expect(resolveSerialPort('/dev/virtio-ports/missing', sys)).toBe('/dev/virtio-ports/missing');
    expect(resolveSerialPort('/dev/ttyS1', sys)).toBe('/dev/ttyS1');
  });
});
