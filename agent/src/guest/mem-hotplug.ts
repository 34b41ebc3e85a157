// MemHotplugByProbe: tell the kernel about hot-added memory at each physical address by writing
// it to /sys/devices/system/memory/probe (guests whose platform does not announce hotplug).
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Code, RpcError } from '../ttrpc/status';
import { memoryDir } from './guest-details';

function parseAddress(addr: unknown): bigint {
  const text = typeof addr === 'bigint' ? addr.toString() : String(addr);
  if (!/^\d+$/.test(text)) throw new RpcError(Code.INVALID_ARGUMENT, `memory hotplug probe address "${text}" is not an unsigned integer`);
  return BigInt(text);
}

/** Addresses as decoded (uint64 as decimal strings); written as 0x-prefixed hex, one write each. */
export function probeMemory(addresses: readonly unknown[], sysRoot = '/sys'): void {
  const parsed = addresses.map(parseAddress);
  if (parsed.length === 0) return;
  const probe = path.join(memoryDir(sysRoot), 'probe');
  if (!existsSync(probe)) {
    throw new RpcError(Code.FAILED_PRECONDITION, `memory hotplug by probe: ${probe} does not exist (guest kernel without CONFIG_ARCH_MEMORY_PROBE)`);
  }
  const fd = openSync(probe, 'w');
  try {
    // One write(2) per address: sysfs takes each write as one store.
    for (const addr of parsed) {
      const text = `0x${addr.toString(16)}`;
      try {
        writeSync(fd, text);
      } catch (err) {
        throw Object.assign(new Error(`memory hotplug probe ${text} via ${probe}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`), { code: (err as NodeJS.ErrnoException).code });
      }
    }
  } finally {
    closeSync(fd);
  }
}
