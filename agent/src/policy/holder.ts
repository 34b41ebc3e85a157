// The agent's active policy: from the image's policy file at start, replaced by SetPolicy.
// A policy that does not validate is refused and the active one stays.
import { readFileSync } from 'node:fs';
import type { Logger } from '../log/logger';
import { Code, RpcError } from '../ttrpc/status';
import { Policy, type PolicyDecision } from './policy';
import { PolicyError } from './rules';

/** Where the guest image may ship a policy (ours; Kata's agent reads /etc/kata-opa/default-policy.rego). */
export const DEFAULT_POLICY_FILE = '/etc/kata-agent/policy.json';

export class PolicyHolder {
  #active: Policy;
  /** allow_guest_roots of the initial (image) policy; SetPolicy cannot change them. */
  readonly guestRoots: readonly string[];

  constructor(initial: Policy = Policy.allowAll(), private readonly knownMethods?: ReadonlySet<string>) {
    this.#active = initial;
    this.guestRoots = initial.document.allowGuestRoots ?? [];
  }

  /** The policy file if it exists (a broken one is an error: an image meant to restrict must not start open). */
  static fromFile(file: string, knownMethods?: ReadonlySet<string>, log?: Logger): PolicyHolder {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new PolicyHolder(Policy.allowAll(), knownMethods);
      throw new Error(`read policy ${file}: ${(err as Error).message}`);
    }
    let policy: Policy;
    try {
      policy = Policy.fromText(text, knownMethods);
    } catch (err) {
      throw new Error(`policy ${file}: ${(err as Error).message}`);
    }
    log?.info('policy loaded', { file, rules: policy.document.rules.length, default: policy.document.defaultAction });
    return new PolicyHolder(policy, knownMethods);
  }

  get active(): Policy {
    return this.#active;
  }

  check(method: string, request: object): PolicyDecision {
    return this.#active.check(method, request);
  }

  /** SetPolicy: INVALID_ARGUMENT (and no change) unless `text` is a valid policy. */
  replace(text: string): Policy {
    let next: Policy;
    try {
      next = Policy.fromText(text, this.knownMethods);
    } catch (err) {
      if (err instanceof PolicyError) throw new RpcError(Code.INVALID_ARGUMENT, `SetPolicy: ${err.message}; the previous policy stays`);
      throw err;
    }
    // The host sends SetPolicy: letting it widen the guest paths it may name would undo the
    // confinement. Extra roots come only with the guest image.
    if (next.document.allowGuestRoots !== undefined) {
      throw new RpcError(Code.INVALID_ARGUMENT, "SetPolicy: allow_guest_roots is only taken from the image's policy file; the previous policy stays");
    }
    this.#active = next;
    return next;
  }
}
