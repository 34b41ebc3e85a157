// GetGuestDetails: the memory block size and probe support the runtime needs for memory
// hotplug, and what this agent is and can do.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentDetails, GuestDetailsRequest, GuestDetailsResponse } from '../proto/messages.generated';
import { AGENT_VERSION } from '../service/health';
import { defaultDrivers, REFUSING_DRIVERS } from '../storage';
import { Code, RpcError } from '../ttrpc/status';

export interface GuestDetailsOptions {
  sysRoot?: string;
  procRoot?: string;
  /** Defaults to "are we PID 1". */
  initDaemon?: boolean;
  /**
   * Device.type values CreateContainer handles (Kata's names: blk, mmioblk, scsi, nvdimm,
   * vfio-pci ...). Empty unless the container layer says which: listing a handler the agent
   * does not have would mislead the runtime.
   */
  deviceHandlers?: readonly string[];
}

/** grpc.GuestDetailsResponse, always with its agent details. */
export type GuestDetails = Omit<GuestDetailsResponse, 'agent_details'> & { agent_details: AgentDetails };

export function memoryDir(sysRoot: string): string {
  return path.join(sysRoot, 'devices', 'system', 'memory');
}

/**
 * block_size_bytes holds the size in hex without "0x" (e.g. "8000000" = 128 MiB). A kernel
 * without memory hotplug has no such file: 0, as Kata's agent answers, so sandboxes still start.
 */
export function readMemoryBlockSize(sysRoot: string): bigint {
  const file = path.join(memoryDir(sysRoot), 'block_size_bytes');
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 0n;
    throw new RpcError(Code.INTERNAL, `read memory block size ${file}: ${code ?? (err as Error).message}`);
  }
  if (!/^(0x)?[0-9a-fA-F]+$/.test(text)) throw new RpcError(Code.INTERNAL, `read memory block size ${file}: "${text}" is not hex`);
  return BigInt(text.startsWith('0x') ? text : `0x${text}`);
}

/** seccomp filters need CONFIG_SECCOMP_FILTER, which is what publishes actions_avail. */
function kernelSupportsSeccomp(procRoot: string): boolean {
  return existsSync(path.join(procRoot, 'sys', 'kernel', 'seccomp', 'actions_avail'));
}

export function guestDetails(request: Partial<GuestDetailsRequest>, opts: GuestDetailsOptions = {}): GuestDetails {
  const sysRoot = opts.sysRoot ?? '/sys';
  const procRoot = opts.procRoot ?? '/proc';
  return {
    mem_block_size_bytes: request.mem_block_size ? readMemoryBlockSize(sysRoot).toString() : '0',
    support_mem_hotplug_probe: request.mem_hotplug_probe ? existsSync(path.join(memoryDir(sysRoot), 'probe')) : false,
    agent_details: {
      version: AGENT_VERSION,
      init_daemon: opts.initDaemon ?? process.pid === 1,
      device_handlers: [...(opts.deviceHandlers ?? [])],
      storage_handlers: Object.keys(defaultDrivers()).filter((name) => !REFUSING_DRIVERS.has(name)),
      supports_seccomp: kernelSupportsSeccomp(procRoot),
      extra_features: [],
    },
  };
}
