// Deciding whether the agent accepts a request: every rule naming the request's method is
// checked in order and the first that refuses it decides; a method no rule names gets the
// policy's default (allow unless the document says "default": "deny").
import { parsePolicyDocument, type PolicyDocument, type PolicyRule } from './rules';

export type PolicyDecision = { allowed: true } | { allowed: false; rule: string; reason: string };

type Request = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ALLOWED: PolicyDecision = { allowed: true };

/** "*" matches one argument; a final "**" matches any remaining ones (also none). */
export function argvMatches(argv: readonly string[], pattern: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p === '**' && i === pattern.length - 1) return true;
    if (i >= argv.length) return false;
    if (p !== '*' && p !== argv[i]) return false;
  }
  return argv.length === pattern.length;
}

/** Exact, or a prefix when the pattern ends in "*". */
export function textMatches(text: string, pattern: string): boolean {
  return pattern.endsWith('*') ? text.startsWith(pattern.slice(0, -1)) : text === pattern;
}

// Where containerd and CRI-O put the image a container was created from.
const IMAGE_ANNOTATIONS = ['io.kubernetes.cri.image-name', 'io.kubernetes.cri-o.ImageName', 'io.katacontainers.pkg.oci.container.image'];

function commandOf(method: string, req: Request): string[] | undefined {
  const proc = method === 'ExecProcess' ? req.process : req.OCI?.Process;
  return Array.isArray(proc?.Args) ? (proc.Args as string[]) : undefined;
}

function imageOf(req: Request): string | undefined {
  const annotations = (req.OCI?.Annotations ?? {}) as Record<string, string>;
  for (const key of IMAGE_ANNOTATIONS) if (annotations[key]) return annotations[key];
  return undefined;
}

function refuse(rule: PolicyRule, reason: string): PolicyDecision {
  return { allowed: false, rule: rule.name, reason };
}

function checkRule(rule: PolicyRule, method: string, req: Request): PolicyDecision {
  if (rule.deny) return refuse(rule, `${method} is denied`);
  if (rule.allowCommands) {
    const argv = commandOf(method, req) ?? [];
    if (!rule.allowCommands.some((p) => argvMatches(argv, p))) return refuse(rule, `command ${JSON.stringify(argv)} is not in allow_commands`);
  }
  if (rule.allowImages) {
    const image = imageOf(req);
    if (image === undefined) return refuse(rule, `the container has no image name annotation (${IMAGE_ANNOTATIONS.join(', ')}) to check against allow_images`);
    if (!rule.allowImages.some((p) => textMatches(image, p))) return refuse(rule, `image "${image}" is not in allow_images`);
  }
  if (rule.allowPaths) {
    const p = typeof req.path === 'string' ? req.path : '';
    if (!rule.allowPaths.some((pattern) => textMatches(p, pattern))) return refuse(rule, `path "${p}" is not in allow_paths`);
  }
  return ALLOWED;
}

export class Policy {
  readonly #byMethod = new Map<string, PolicyRule[]>();
  readonly #wildcard: PolicyRule[];

  constructor(readonly document: PolicyDocument, readonly text = '') {
    this.#wildcard = document.rules.filter((r) => r.methods.includes('*'));
    for (const rule of document.rules) {
      for (const m of rule.methods) {
        if (m === '*') continue;
        const list = this.#byMethod.get(m) ?? [];
        list.push(rule);
        this.#byMethod.set(m, list);
      }
    }
  }

  /** Throws PolicyError naming what is wrong. `knownMethods` rejects rules for methods that do not exist. */
  static fromText(text: string, knownMethods?: ReadonlySet<string>): Policy {
    return new Policy(parsePolicyDocument(text, knownMethods), text);
  }

  static allowAll(): Policy {
    return new Policy({ defaultAction: 'allow', rules: [] });
  }

  check(method: string, request: object): PolicyDecision {
    const specific = this.#byMethod.get(method);
    // Rules keep document order across specific and "*" rules.
    const rules = this.#wildcard.length === 0 ? (specific ?? []) : this.document.rules.filter((r) => r.methods.includes('*') || r.methods.includes(method));
    if (rules.length === 0) {
      return this.document.defaultAction === 'allow' ? ALLOWED : { allowed: false, rule: 'default', reason: `no rule allows ${method} and the default is deny` };
    }
    let permitted = this.document.defaultAction === 'allow';
    for (const rule of rules) {
      const decision = checkRule(rule, method, request as Request);
      if (!decision.allowed) return decision;
      // A rule that names the method and lets the request through permits it under default deny.
      if (rule.allow || rule.allowCommands || rule.allowImages || rule.allowPaths) permitted = true;
    }
    return permitted ? ALLOWED : { allowed: false, rule: 'default', reason: `no rule allows ${method} and the default is deny` };
  }
}
