// The argv that runs a helper process (QEMU, virtiofsd) so that it never outlives us: under
// `setpriv --pdeathsig KILL` the kernel kills it when this process dies, even by SIGKILL.
import { existsSync } from 'node:fs';

export const SETPRIV = '/usr/bin/setpriv';

const PDEATHSIG = [SETPRIV, '--pdeathsig', 'KILL', '--'];

/**
 * `command` behind setpriv, with `prefix` (e.g. nsenter into another mount namespace) in
 * between. The parent-death signal survives exec, so setpriv before the prefix covers a prefix
 * that execs the command; a second setpriv right before the command covers one that forks (its
 * child's parent is then the prefix process, which the first one kills with us).
 * Without setpriv on this host the command runs unguarded (the exit hooks still kill it).
 */
export function guardedCommand(command: readonly string[], prefix: readonly string[] = [], setprivPresent = existsSync(SETPRIV)): string[] {
  if (!setprivPresent) return [...prefix, ...command];
  return prefix.length > 0 ? [...PDEATHSIG, ...prefix, ...PDEATHSIG, ...command] : [...PDEATHSIG, ...command];
}
