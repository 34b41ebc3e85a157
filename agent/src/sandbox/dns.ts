// The pod's resolv.conf from CreateSandbox.dns (one resolv.conf line per entry), bind-mounted
// into containers whose spec does not bring its own.
import { writeFile } from 'node:fs/promises';
import { SANDBOX_DIR } from '../paths';

export const SANDBOX_RESOLV_CONF = `${SANDBOX_DIR}/resolv.conf`;

export async function writeResolvConf(lines: string[], path = SANDBOX_RESOLV_CONF): Promise<string> {
  await writeFile(path, lines.map((l) => l.trim()).join('\n') + '\n', { mode: 0o644 });
  return path;
}
