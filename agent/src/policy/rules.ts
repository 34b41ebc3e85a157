// The policy document: its JSON shape, checked strictly, so that a typo in a rule is an error
// when the policy is set rather than a silent allow when a request comes.
import { checkExtraRoot } from '../storage/confinement';

export interface PolicyRule {
  /** Shown in PERMISSION_DENIED messages; defaults to "rules[<index>]". */
  name: string;
  /** AgentService method names this rule applies to; "*" = all. */
  methods: string[];
  /** Refuses the method outright. */
  deny?: boolean;
  /** Permits the method (only meaningful when the policy's default is "deny"). */
  allow?: boolean;
  /** ExecProcess / CreateContainer: argv patterns; "*" = one argument, a final "**" = any rest. */
  allowCommands?: string[][];
  /** CreateContainer: image name patterns (exact, or a prefix ending in "*"). */
  allowImages?: string[];
  /** CopyFile: path patterns (exact, or a prefix ending in "*"). */
  allowPaths?: string[];
}

export interface PolicyDocument {
  defaultAction: 'allow' | 'deny';
  rules: PolicyRule[];
  /** Guest directories allowed besides Kata's own for mount points, bind sources, volume stats and swap (storage/confinement.ts). */
  allowGuestRoots?: string[];
}

export class PolicyError extends Error {}

const RULE_KEYS = new Set(['name', 'method', 'deny', 'allow', 'allow_commands', 'allow_images', 'allow_paths']);
const TOP_KEYS = new Set(['version', 'default', 'rules', 'allow_guest_roots']);

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function checkPatterns(where: string, v: unknown): string[] {
  if (!isStringArray(v) || v.length === 0) throw new PolicyError(`${where}: expected a non-empty list of strings`);
  return v;
}

function parseRule(raw: unknown, index: number, knownMethods: ReadonlySet<string> | undefined): PolicyRule {
  const where = `rules[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PolicyError(`${where}: expected an object`);
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!RULE_KEYS.has(key)) throw new PolicyError(`${where}: unknown key "${key}"`);
  if (r.name !== undefined && (typeof r.name !== 'string' || r.name === '')) throw new PolicyError(`${where}: name must be a non-empty string`);
  const name = (r.name as string | undefined) ?? where;
  const methods = typeof r.method === 'string' ? [r.method] : r.method;
  if (!isStringArray(methods) || methods.length === 0) throw new PolicyError(`${where} (${name}): method must be a method name or a list of them`);
  for (const m of methods) {
    if (m !== '*' && knownMethods && !knownMethods.has(m)) throw new PolicyError(`${where} (${name}): "${m}" is not an AgentService method`);
  }
  const rule: PolicyRule = { name, methods };
  for (const flag of ['deny', 'allow'] as const) {
    if (r[flag] === undefined) continue;
    if (typeof r[flag] !== 'boolean') throw new PolicyError(`${where} (${name}): ${flag} must be true or false`);
    rule[flag] = r[flag] as boolean;
  }
  if (r.allow_commands !== undefined) {
    const list = r.allow_commands;
    if (!Array.isArray(list) || list.length === 0) throw new PolicyError(`${where} (${name}): allow_commands must be a non-empty list of argv lists`);
    rule.allowCommands = list.map((argv, i) => {
      const patterns = checkPatterns(`${where} (${name}): allow_commands[${i}]`, argv);
      if (patterns.slice(0, -1).includes('**')) throw new PolicyError(`${where} (${name}): allow_commands[${i}]: "**" may only be the last element`);
      return patterns;
    });
    onlyFor(rule, where, 'allow_commands', ['ExecProcess', 'CreateContainer']);
  }
  if (r.allow_images !== undefined) {
    rule.allowImages = checkPatterns(`${where} (${name}): allow_images`, r.allow_images);
    onlyFor(rule, where, 'allow_images', ['CreateContainer']);
  }
  if (r.allow_paths !== undefined) {
    rule.allowPaths = checkPatterns(`${where} (${name}): allow_paths`, r.allow_paths);
    onlyFor(rule, where, 'allow_paths', ['CopyFile']);
  }
  const kinds = [rule.deny, rule.allow, rule.allowCommands ?? rule.allowImages ?? rule.allowPaths].filter((x) => x !== undefined && x !== false);
  if (kinds.length === 0) throw new PolicyError(`${where} (${name}): says nothing (give deny, allow, allow_commands, allow_images or allow_paths)`);
  if (rule.deny && kinds.length > 1) throw new PolicyError(`${where} (${name}): deny cannot be combined with allow or allow_* lists`);
  return rule;
}

function onlyFor(rule: PolicyRule, where: string, key: string, methods: string[]): void {
  const wrong = rule.methods.filter((m) => !methods.includes(m));
  if (wrong.length > 0) throw new PolicyError(`${where} (${rule.name}): ${key} applies to ${methods.join(' and ')}, not ${wrong.join(', ')}`);
}

/** Parses and validates a policy document (JSON text). */
export function parsePolicyDocument(text: string, knownMethods?: ReadonlySet<string>): PolicyDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const hint = /^\s*(package|default)\s/m.test(text) ? ' (this looks like Rego: this agent takes JSON policies, see docs/policy.md)' : '';
    throw new PolicyError(`not JSON: ${(err as Error).message}${hint}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PolicyError('a policy is a JSON object');
  const doc = raw as Record<string, unknown>;
  for (const key of Object.keys(doc)) if (!TOP_KEYS.has(key)) throw new PolicyError(`unknown key "${key}"`);
  if (doc.version !== undefined && doc.version !== 1) throw new PolicyError(`version ${JSON.stringify(doc.version)} is not supported (1 is)`);
  const defaultAction = doc.default ?? 'allow';
  if (defaultAction !== 'allow' && defaultAction !== 'deny') throw new PolicyError(`default must be "allow" or "deny", not ${JSON.stringify(defaultAction)}`);
  if (doc.rules !== undefined && !Array.isArray(doc.rules)) throw new PolicyError('rules must be a list');
  const rules = ((doc.rules as unknown[] | undefined) ?? []).map((r, i) => parseRule(r, i, knownMethods));
  const names = new Set<string>();
  for (const r of rules) {
    if (names.has(r.name)) throw new PolicyError(`two rules are named "${r.name}"`);
    names.add(r.name);
  }
  const parsed: PolicyDocument = { defaultAction, rules };
  if (doc.allow_guest_roots !== undefined) {
    const roots = checkPatterns('allow_guest_roots', doc.allow_guest_roots);
    for (const root of roots) {
      const problem = checkExtraRoot(root);
      if (problem) throw new PolicyError(`allow_guest_roots: ${problem}`);
    }
    parsed.allowGuestRoots = roots.map((r) => r.replace(/\/+$/, ''));
  }
  return parsed;
}
