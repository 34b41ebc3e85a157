// SetGuestDateTime and ReseedRandomDev: checked here, done by the addon (settimeofday(2),
// RNDADDENTROPY + RNDRESEEDCRNG on /dev/random).
import { addEntropy, setTimeOfDay } from '../native/guest-ops';
import { Code, RpcError } from '../ttrpc/status';

// Far beyond any real clock, and what settimeofday on a 64-bit time_t still takes.
const MAX_SECONDS = 2 ** 40;

function int64(name: string, value: unknown): number {
  const text = typeof value === 'bigint' ? value.toString() : String(value ?? '0');
  if (!/^-?\d+$/.test(text)) throw new RpcError(Code.INVALID_ARGUMENT, `SetGuestDateTime: ${name} "${text}" is not an integer`);
  return Number(text);
}

export function checkDateTime(sec: unknown, usec: unknown): { seconds: number; microseconds: number } {
  const seconds = int64('Sec', sec);
  const microseconds = int64('Usec', usec);
  // Sec 0 is what an empty request decodes to: never move the clock back to 1970 by accident.
  if (seconds <= 0 || seconds > MAX_SECONDS) throw new RpcError(Code.INVALID_ARGUMENT, `SetGuestDateTime: Sec ${seconds} is outside 1..${MAX_SECONDS}`);
  if (microseconds < 0 || microseconds > 999_999) throw new RpcError(Code.INVALID_ARGUMENT, `SetGuestDateTime: Usec ${microseconds} is outside 0..999999`);
  return { seconds, microseconds };
}

export function setGuestDateTime(sec: unknown, usec: unknown): void {
  const { seconds, microseconds } = checkDateTime(sec, usec);
  setTimeOfDay(seconds, microseconds);
}

// The kernel caps one RNDADDENTROPY at what fits its pool input; the runtime sends a few KiB.
export const MAX_SEED_BYTES = 1 << 20;

export function checkSeed(data: unknown): Buffer {
  if (!(data instanceof Uint8Array)) throw new RpcError(Code.INVALID_ARGUMENT, 'ReseedRandomDev: data is not bytes');
  if (data.length === 0) throw new RpcError(Code.INVALID_ARGUMENT, 'ReseedRandomDev: no seed data');
  if (data.length > MAX_SEED_BYTES) throw new RpcError(Code.INVALID_ARGUMENT, `ReseedRandomDev: ${data.length} bytes of seed is more than ${MAX_SEED_BYTES}`);
  return Buffer.from(data.buffer, data.byteOffset, data.length);
}

export function reseedRandom(data: unknown, devicePath = '/dev/random'): void {
  addEntropy(checkSeed(data), devicePath);
}
