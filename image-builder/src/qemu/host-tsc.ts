// The host's TSC rate, which a TCG guest needs on microvm: there, QEMU's emulated rdtsc reads
// the host's TSC, and the machine has no HPET or ACPI PM timer to calibrate it against, only the
// PIT, whose calibration fails when the host is busy (the boot then hangs with the TSC marked
// unstable). The guest is told the rate instead (tsc_early_khz=).
import { readFile } from 'node:fs/promises';

/**
 * kHz from /proc/cpuinfo's bogomips, which x86 Linux derives from its own TSC rate (lpj = tsc_khz
 * * 1000 / HZ, bogomips = lpj * HZ / 500000, so kHz = bogomips * 500) and which, unlike "cpu MHz",
 * does not follow cpufreq. Undefined when there is no such line (not x86, no /proc).
 */
export function parseHostTscKhz(cpuinfo: string): number | undefined {
  const m = /^bogomips\s*:\s*([\d.]+)/m.exec(cpuinfo);
  const khz = m ? Math.round(Number.parseFloat(m[1]!) * 500) : NaN;
  return Number.isFinite(khz) && khz > 0 ? khz : undefined;
}

export async function hostTscKhz(cpuinfoPath = '/proc/cpuinfo'): Promise<number | undefined> {
  return parseHostTscKhz(await readFile(cpuinfoPath, 'utf8').catch(() => ''));
}
