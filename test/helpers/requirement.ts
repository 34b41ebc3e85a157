// Tests that need something from the machine (a tool, root, a device). On a developer's machine a
// missing requirement skips the test and says why. In CI (CI=true) nothing may skip that way: the
// README's test command installs every requirement, so one that is missing is a failure, reported
// with its reason, not a suite silently left out.
import { spawnSync } from 'node:child_process';

export const IN_CI = process.env.CI === 'true';

export class RequirementMissing extends Error {
  constructor(reason: string) {
    super(`CI=true, and a test requirement is missing: ${reason}`);
    this.name = 'RequirementMissing';
  }
}

/**
 * For `describe.skipIf(...)` / `it.skipIf(...)`: `reason` is why the test cannot run here, or
 * undefined when it can. Outside CI: true (skip) and the reason on stderr. In CI: throws.
 */
export function skipUnlessAvailable(reason: string | undefined): boolean {
  if (reason === undefined) return false;
  if (IN_CI) throw new RequirementMissing(reason);
  process.stderr.write(`[skipped] ${reason}\n`);
  return true;
}

/** The same, inside a running test: `requireOrSkip(ctx, reason)` skips it, or fails it in CI. */
export function requireOrSkip(ctx: { skip: (note?: string) => void }, reason: string | undefined): void {
  if (skipUnlessAvailable(reason)) ctx.skip(reason);
}

/** Why the test cannot run as this user: it needs root (the README runs the tests as root). */
export function notRootReason(): string | undefined {
  return process.getuid?.() === 0 ? undefined : 'needs root (run as root, as scripts/test.sh is)';
}

/** Why `tool` cannot be used: it is not on PATH. */
export function toolMissingReason(tool: string, debianPackage?: string): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status === 0;
  if (found) return undefined;
  return `'${tool}' is not installed${debianPackage ? ` (apt-get install ${debianPackage})` : ''}`;
}
