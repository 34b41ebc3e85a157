// Why a container's seccomp profile can stop the OCI runtime itself. Loading a filter needs
// CAP_SYS_ADMIN unless no_new_privs is set, so without process.noNewPrivileges crun (like runc
// and Kata's rustjail) loads the profile BEFORE it drops capabilities and switches user; its
// own remaining calls then go through the container's filter. A profile that allows only what
// the workload needs (the Kata fixtures' nginx profile allows 14 syscalls) makes crun fail with
// "prctl drop bounding: Operation not permitted". This names the calls the profile denies, so
// the error says what to change.
import type { OciJson } from './oci-json';
import { OciRuntimeError } from './runtime/oci-runtime';

/**
 * What crun 1.8 calls between loading the filter and execve (seen with strace): capability
 * bounding drops and keep-caps (prctl), the user switch (setresgid, setresuid), capset, signal
 * mask reset, the sync write, the exec fifo wait of `create` (openat, read), close, execve.
 */
const RUNTIME_CALLS_AFTER_LOAD = ['prctl', 'setresgid', 'setresuid', 'capset', 'rt_sigprocmask', 'rt_sigaction', 'openat', 'read', 'write', 'close', 'execve'];

const PASSING_ACTIONS = new Set(['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG']);

/** Whether the profile lets `name` through (a rule with argument conditions counts as letting it). */
function allows(profile: OciJson, name: string): boolean {
  let verdict: boolean | undefined;
  for (const rule of (profile.syscalls ?? []) as OciJson[]) {
    if (!((rule.names ?? []) as string[]).includes(name)) continue;
    const passes = PASSING_ACTIONS.has(String(rule.action));
    if (passes || (rule.args ?? []).length > 0) return true;
    verdict = false;
  }
  return verdict ?? PASSING_ACTIONS.has(String(profile.defaultAction));
}

/** The calls crun still has to make after loading `spec`'s profile that the profile denies. */
export function runtimeCallsDeniedByProfile(spec: OciJson): string[] {
  const profile = spec.linux?.seccomp as OciJson | undefined;
  if (!profile) return [];
  // With no_new_privs crun loads the filter as its last step before execve.
  const late = Boolean(spec.process?.noNewPrivileges);
  const calls = late ? ['execve'] : RUNTIME_CALLS_AFTER_LOAD;
  return calls.filter((c) => !allows(profile, c));
}

/** A sentence to append to crun's error when the profile is why it failed, else ''. */
export function seccompFailureHint(spec: OciJson): string {
  const denied = runtimeCallsDeniedByProfile(spec);
  if (denied.length === 0) return '';
  return (
    ` (the container's seccomp profile denies ${denied.join(', ')}, which the OCI runtime calls after loading it:` +
    ' without process.noNewPrivileges the profile is loaded before capabilities are dropped, as runc and Kata\'s agent also do;' +
    ' allow these calls in the profile, or have the runtime send none (disable_guest_seccomp))'
  );
}

/** crun's failure with the hint added when the container's profile explains it. */
export function explainSeccompFailure(err: unknown, spec: OciJson): unknown {
  if (!(err instanceof OciRuntimeError)) return err;
  const hint = seccompFailureHint(spec);
  return hint ? new OciRuntimeError(err.operation, err.containerId, err.detail + hint, err.exitCode) : err;
}
