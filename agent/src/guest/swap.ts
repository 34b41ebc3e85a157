// AddSwap / AddSwapPath: swapon(2) on a swap area. Kata's runtime formats the swap disk on the
// host (mkswap) before hot-plugging it, so an area that already carries a swap signature is
// used as it is; one without is formatted here first, and only if it holds nothing but zeros (our
// own header writer rather than a mkswap binary, so that the image needs no util-linux for it).
//
// Layout (linux/swap.h, union swap_header), in the kernel's byte order (little-endian on every
// architecture Kata guests run): 1024 boot bytes, then u32 version = 1, u32 last_page,
// u32 nr_badpages = 0, 16-byte UUID, 16-byte label; "SWAPSPACE2" ends the first page.
import { createRequire } from 'node:module';
// The swap area's own I/O is asynchronous (libuv's threadpool): a swap file may sit on a share
// whose server stalls, and the JS thread must never wait on that. /proc and /sys are read directly.
import { closeSync, openSync, readFileSync, readSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { swapOn } from '../native/guest-ops';
import { Code, RpcError } from '../ttrpc/status';

const SWAP_MAGIC = 'SWAPSPACE2';
// The kernel refuses swap areas of fewer than 10 pages.
const MIN_PAGES = 10;

let cachedPageSize: number | undefined;

/** The kernel's page size, from the first mapping in /proc/self/smaps (4096 if unreadable). */
export function kernelPageSize(): number {
  if (cachedPageSize !== undefined) return cachedPageSize;
  let size = 4096;
  try {
    const fd = openSync('/proc/self/smaps', 'r');
    try {
      const buf = Buffer.alloc(4096);
      const n = readSync(fd, buf, 0, buf.length, null);
      const m = /KernelPageSize:\s+(\d+) kB/.exec(buf.subarray(0, n).toString('latin1'));
      if (m) size = Number(m[1]) * 1024;
    } finally {
      closeSync(fd);
    }
  } catch {
    // keep 4096
  }
  cachedPageSize = size;
  return size;
}

export interface SwapHeader {
  uuid: string;
  pages: number;
}

/** Formats the swap area on a file or block device of `sizeBytes` (default: its current size). */
export async function writeSwapHeader(target: string, opts: { pageSize?: number; sizeBytes?: number; uuid?: string } = {}): Promise<SwapHeader> {
  const pageSize = opts.pageSize ?? kernelPageSize();
  const file = await open(target, 'r+');
  try {
    const st = await file.stat();
    const size = opts.sizeBytes ?? (st.isBlockDevice() ? blockDeviceSize(target) : st.size);
    const pages = Math.floor(size / pageSize);
    if (pages < MIN_PAGES) {
      throw new RpcError(Code.INVALID_ARGUMENT, `mkswap ${target}: ${size} bytes is smaller than ${MIN_PAGES} pages of ${pageSize} bytes`);
    }
    // node:crypto (some 20 internal modules) loads on the first swap, not with the agent.
    const uuid = opts.uuid ?? (createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')).randomUUID();
    const page = Buffer.alloc(pageSize);
    page.writeUInt32LE(1, 1024); // version
    page.writeUInt32LE(pages - 1, 1028); // last_page
    page.writeUInt32LE(0, 1032); // nr_badpages
    Buffer.from(uuid.replace(/-/g, ''), 'hex').copy(page, 1036);
    page.write(SWAP_MAGIC, pageSize - SWAP_MAGIC.length, 'latin1');
    await file.write(page, 0, page.length, 0);
    return { uuid, pages };
  } finally {
    await file.close();
  }
}

/** True when the first page already ends in the "SWAPSPACE2" signature. */
export async function hasSwapSignature(target: string, pageSize = kernelPageSize()): Promise<boolean> {
  const file = await open(target, 'r');
  try {
    const magic = Buffer.alloc(SWAP_MAGIC.length);
    const { bytesRead } = await file.read(magic, 0, magic.length, pageSize - SWAP_MAGIC.length);
    return bytesRead === magic.length && magic.toString('latin1') === SWAP_MAGIC;
  } finally {
    await file.close();
  }
}

const SCAN_CHUNK = 1 << 20;

/**
 * Where the first non-zero byte of `target` is, or undefined when it holds only zeros (a fully
 * sparse file needs no reading). Read in chunks through libuv's thread pool, not on the JS thread.
 */
export async function firstDataOffset(target: string): Promise<number | undefined> {
  const file = await open(target, 'r');
  try {
    const st = await file.stat();
    if (st.isFile() && st.blocks === 0) return undefined;
    const buf = Buffer.alloc(SCAN_CHUNK);
    for (let offset = 0; ; ) {
      const { bytesRead } = await file.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) return undefined;
      for (let i = 0; i < bytesRead; i++) if (buf[i] !== 0) return offset + i;
      offset += bytesRead;
    }
  } finally {
    await file.close();
  }
}

/**
 * Formats `target` unless it already is a swap area; says which. Nothing destructive: an area
 * that is not swap is formatted only when it holds nothing but zeros (a new file or disk).
 */
export async function prepareSwapArea(target: string, what = 'swap'): Promise<{ formatted: boolean; uuid?: string; pages?: number }> {
  if (await hasSwapSignature(target)) return { formatted: false };
  const data = await firstDataOffset(target);
  if (data !== undefined) {
    throw new RpcError(Code.FAILED_PRECONDITION, `${what}: ${target} is not a swap area and holds data (a non-zero byte at offset ${data}): refusing to format it`);
  }
  return { formatted: true, ...(await writeSwapHeader(target)) };
}

/** Size of a block device from sysfs (/sys/class/block/<name>/size, in 512-byte sectors). */
function blockDeviceSize(devPath: string): number {
  const name = devPath.slice(devPath.lastIndexOf('/') + 1);
  const sectors = Number(readFileSync(`/sys/class/block/${name}/size`, 'utf8').trim());
  return sectors * 512;
}

/** AddSwapPath: a regular file or a disk of at least 10 pages, formatted (if all zeros) and enabled. */
export async function addSwapFile(filePath: unknown): ReturnType<typeof prepareSwapArea> {
  if (typeof filePath !== 'string' || !filePath.startsWith('/')) {
    throw new RpcError(Code.INVALID_ARGUMENT, `AddSwapPath: path "${String(filePath)}" is not absolute`);
  }
  let st: Stats;
  try {
    st = await fstatOf(filePath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RpcError(code === 'ENOENT' ? Code.NOT_FOUND : Code.INVALID_ARGUMENT, `AddSwapPath: ${filePath}: ${code ?? (err as Error).message}`);
  }
  // runtime-rs sends the guest path of a hot-plugged disk (/dev/vdX) when it has no PCI path.
  if (!st.isFile() && !st.isBlockDevice()) throw new RpcError(Code.INVALID_ARGUMENT, `AddSwapPath: ${filePath} is not a regular file or a block device`);
  const prepared = await prepareSwapArea(filePath, 'AddSwapPath');
  await swapOn(filePath);
  return prepared;
}

async function fstatOf(p: string): Promise<Stats> {
  const file = await open(p, 'r');
  try {
    return await file.stat();
  } finally {
    await file.close();
  }
}

/** Finds the block device of a swap disk the runtime hot-plugged (Kata: PCI path of slots). */
export type SwapDeviceResolver = (pciPath: readonly number[], signal?: AbortSignal) => Promise<string>;

/** AddSwap: the disk at a PCI path, formatted and enabled. */
export async function addSwapDevice(
  pciPath: readonly number[],
  resolve: SwapDeviceResolver,
  signal?: AbortSignal,
): Promise<{ device: string } & Awaited<ReturnType<typeof prepareSwapArea>>> {
  if (!Array.isArray(pciPath) || pciPath.length === 0) throw new RpcError(Code.INVALID_ARGUMENT, 'AddSwap: empty PCI path');
  for (const slot of pciPath) {
    if (!Number.isInteger(slot) || slot < 0 || slot > 0x1f) throw new RpcError(Code.INVALID_ARGUMENT, `AddSwap: PCI path element ${slot} is not a slot number (0-31)`);
  }
  const device = await resolve(pciPath, signal);
  const prepared = await prepareSwapArea(device, 'AddSwap');
  await swapOn(device);
  return { device, ...prepared };
}
