// The agent policy: which requests each rule allows or denies (with the rule's name in the
// answer), strict validation of policy documents, SetPolicy keeping the old policy on bad
// input, and the PERMISSION_DENIED hook around handlers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { argvMatches, Policy, PolicyHolder, withPolicy } from '../../agent/src/policy';
import { AGENT_SERVICE, serviceMethods } from '../../agent/src/proto/schema';
import type { CallContext } from '../../agent/src/ttrpc/registry';
import { Code } from '../../agent/src/ttrpc/status';

const METHODS = new Set(serviceMethods(AGENT_SERVICE).map((m) => m.method));
const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

const exec = (...args: string[]) => ({ container_id: 'c1', exec_id: 'e1', process: { Args: args } });
const create = (image: string | undefined, ...args: string[]) => ({
  container_id: 'c1',
  OCI: { Process: { Args: args }, Annotations: image ? { 'io.kubernetes.cri.image-name': image } : {} },
});

const SAMPLE = JSON.stringify({
  version: 1,
  rules: [
    { name: 'no-copy-file', method: 'CopyFile', deny: true },
    { name: 'exec-allow-list', method: 'ExecProcess', allow_commands: [['sh'], ['/bin/ls', '**'], ['cat', '*']] },
    { name: 'trusted-images', method: 'CreateContainer', allow_images: ['docker.io/library/*', 'registry.k8s.io/pause:3.9'] },
    { method: ['SetIPTables', 'GetIPTables'], deny: true },
  ],
});

describe('Policy.check', () => {
  const policy = Policy.fromText(SAMPLE, METHODS);

  it('allows everything by default, including methods no rule names', () => {
    expect(Policy.allowAll().check('CopyFile', { path: '/x' })).toEqual({ allowed: true });
    expect(policy.check('StartContainer', { container_id: 'c1' })).toEqual({ allowed: true });
  });

  it('denies a method outright, naming the rule (or its index when unnamed)', () => {
    expect(policy.check('CopyFile', { path: '/run/kata-containers/shared/containers/x' })).toEqual({ allowed: false, rule: 'no-copy-file', reason: 'CopyFile is denied' });
    expect(policy.check('SetIPTables', {})).toMatchObject({ allowed: false, rule: 'rules[3]' });
  });

  it('allows only the listed commands for ExecProcess', () => {
    expect(policy.check('ExecProcess', exec('sh'))).toEqual({ allowed: true });
    expect(policy.check('ExecProcess', exec('/bin/ls'))).toEqual({ allowed: true });
    expect(policy.check('ExecProcess', exec('/bin/ls', '-l', '/etc'))).toEqual({ allowed: true });
    expect(policy.check('ExecProcess', exec('cat', '/etc/hosts'))).toEqual({ allowed: true });
    expect(policy.check('ExecProcess', exec('cat'))).toMatchObject({ allowed: false, rule: 'exec-allow-list' });
    expect(policy.check('ExecProcess', exec('cat', 'a', 'b'))).toMatchObject({ allowed: false });
    expect(policy.check('ExecProcess', exec('sh', '-c', 'rm -rf /'))).toEqual({
      allowed: false,
      rule: 'exec-allow-list',
      reason: 'command ["sh","-c","rm -rf /"] is not in allow_commands',
    });
    expect(policy.check('ExecProcess', { process: null })).toMatchObject({ allowed: false, rule: 'exec-allow-list' });
  });

  it('allows only the listed images for CreateContainer; no image annotation is refused', () => {
    expect(policy.check('CreateContainer', create('docker.io/library/busybox:latest', 'sh'))).toEqual({ allowed: true });
    expect(policy.check('CreateContainer', create('registry.k8s.io/pause:3.9'))).toEqual({ allowed: true });
    expect(policy.check('CreateContainer', create('registry.k8s.io/pause:3.10'))).toMatchObject({ allowed: false, rule: 'trusted-images', reason: expect.stringContaining('registry.k8s.io/pause:3.10') });
    expect(policy.check('CreateContainer', create(undefined))).toMatchObject({ allowed: false, reason: expect.stringContaining('no image name annotation') });
  });

  it('under default deny, allows exactly what a rule lets through', () => {
    const p = Policy.fromText(
      JSON.stringify({
        default: 'deny',
        rules: [
          { name: 'lifecycle', method: ['CreateSandbox', 'StartContainer', 'WaitProcess'], allow: true },
          { name: 'copy-under-share', method: 'CopyFile', allow_paths: ['/run/kata-containers/shared/containers/*'] },
        ],
      }),
      METHODS,
    );
    expect(p.check('StartContainer', {})).toEqual({ allowed: true });
    expect(p.check('CopyFile', { path: '/run/kata-containers/shared/containers/c1/rootfs/x' })).toEqual({ allowed: true });
    expect(p.check('CopyFile', { path: '/etc/passwd' })).toMatchObject({ allowed: false, rule: 'copy-under-share' });
    expect(p.check('ExecProcess', exec('sh'))).toEqual({ allowed: false, rule: 'default', reason: 'no rule allows ExecProcess and the default is deny' });
  });

  it('applies "*" rules to every method, in document order with specific ones', () => {
    const p = Policy.fromText(JSON.stringify({ rules: [{ name: 'ls-only', method: 'ExecProcess', allow_commands: [['ls']] }, { name: 'lockdown', method: '*', deny: true }] }), METHODS);
    expect(p.check('ExecProcess', exec('sh'))).toMatchObject({ rule: 'ls-only' });
    expect(p.check('ExecProcess', exec('ls'))).toMatchObject({ rule: 'lockdown' });
    expect(p.check('Health', {})).toMatchObject({ rule: 'lockdown' });
  });

  it('matches argv patterns: "*" one argument, final "**" any rest', () => {
    expect(argvMatches(['a'], ['a', '**'])).toBe(true);
    expect(argvMatches(['a', 'b', 'c'], ['a', '*', '**'])).toBe(true);
    expect(argvMatches(['a'], ['a', '*', '**'])).toBe(false);
    expect(argvMatches(['a', 'b'], ['a'])).toBe(false);
    expect(argvMatches([], [])).toBe(true);
  });
});

describe('policy documents are validated strictly', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['Rego text', 'package agent_policy\n\ndefault CopyFileRequest := false\n', /not JSON.*Rego/s],
    ['unknown top-level key', '{"rulez": []}', /unknown key "rulez"/],
    ['bad default', '{"default": "maybe"}', /default must be/],
    ['future version', '{"version": 2}', /version 2/],
    ['misspelt method', '{"rules": [{"method": "ExecProces", "deny": true}]}', /"ExecProces" is not an AgentService method/],
    ['unknown rule key', '{"rules": [{"method": "CopyFile", "deny": true, "paths": []}]}', /unknown key "paths"/],
    ['rule that says nothing', '{"rules": [{"name": "x", "method": "CopyFile"}]}', /says nothing/],
    ['allow_commands on the wrong method', '{"rules": [{"method": "CopyFile", "allow_commands": [["sh"]]}]}', /applies to ExecProcess and CreateContainer/],
    ['"**" not last', '{"rules": [{"method": "ExecProcess", "allow_commands": [["sh", "**", "x"]]}]}', /may only be the last/],
    ['deny with allow list', '{"rules": [{"method": "ExecProcess", "deny": true, "allow_commands": [["sh"]]}]}', /cannot be combined/],
    ['duplicate names', '{"rules": [{"name": "a", "method": "CopyFile", "deny": true}, {"name": "a", "method": "ExecProcess", "deny": true}]}', /two rules are named "a"/],
  ];
  it.each(bad)('refuses %s', (_what, text, message) => {
    expect(() => Policy.fromText(text, METHODS)).toThrow(message);
  });
});

describe('PolicyHolder and the handler hook', () => {
  const ctx = {} as CallContext;

  it('SetPolicy replaces the policy; a bad one is INVALID_ARGUMENT and the old one stays', () => {
    const holder = new PolicyHolder(undefined, METHODS);
    expect(holder.check('CopyFile', {})).toEqual({ allowed: true });
    holder.replace(SAMPLE);
    expect(holder.check('CopyFile', {})).toMatchObject({ allowed: false, rule: 'no-copy-file' });
    expect(() => holder.replace('{"rules": [{"method": "Nope", "deny": true}]}')).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining('the previous policy stays') }));
    expect(() => holder.replace('')).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT }));
    expect(holder.check('CopyFile', {})).toMatchObject({ allowed: false, rule: 'no-copy-file' });
    expect(holder.active.text).toBe(SAMPLE);
  });

  it('loads the image policy file when present, allow-all when absent, and refuses a broken file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'policy-'));
    temps.push(dir);
    expect(PolicyHolder.fromFile(path.join(dir, 'none.json'), METHODS).check('CopyFile', {})).toEqual({ allowed: true });
    writeFileSync(path.join(dir, 'p.json'), SAMPLE);
    expect(PolicyHolder.fromFile(path.join(dir, 'p.json'), METHODS).check('CopyFile', {})).toMatchObject({ allowed: false });
    writeFileSync(path.join(dir, 'broken.json'), '{"rules": [');
    expect(() => PolicyHolder.fromFile(path.join(dir, 'broken.json'), METHODS)).toThrow(/broken\.json: not JSON/);
  });

  it('withPolicy answers PERMISSION_DENIED naming method and rule, and never calls the handler', async () => {
    const holder = new PolicyHolder(Policy.fromText(SAMPLE, METHODS));
    const calls: string[] = [];
    const wrapped = withPolicy(holder, {
      CopyFile: () => {
        calls.push('CopyFile');
        return {};
      },
      ExecProcess: (r) => {
        calls.push('ExecProcess');
        return { ok: r.exec_id };
      },
    });
    expect(() => wrapped.CopyFile!({ path: '/x' }, ctx)).toThrow(
      expect.objectContaining({ code: Code.PERMISSION_DENIED, message: 'CopyFile denied by policy rule "no-copy-file": CopyFile is denied' }),
    );
    expect(await wrapped.ExecProcess!(exec('sh'), ctx)).toEqual({ ok: 'e1' });
    expect(() => wrapped.ExecProcess!(exec('bash'), ctx)).toThrow(expect.objectContaining({ code: Code.PERMISSION_DENIED, message: expect.stringContaining('"exec-allow-list"') }));
    expect(calls).toEqual(['ExecProcess']);
  });
});
