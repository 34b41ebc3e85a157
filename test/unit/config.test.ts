import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, splitCmdline } from '../../agent/src/config/config';
import { loadConfig } from '../../agent/src/config/load';

const KATA_CMDLINE =
  'tsc=reliable no_timer_check rcupdate.rcu_expedited=1 reboot=k console=hvc0 quiet panic=1 nr_cpus=2 ' +
  'systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all agent.log=debug agent.debug_console agent.debug_console_vport=1026 ' +
  'agent.log_vport=1025 agent.hotplug_timeout=7 agent.container_pipe_size=65536';

describe('agent configuration', () => {
  it('has Kata defaults, listening on vsock://-1:1024', () => {
    const { config, warnings } = loadConfig({ cmdline: '', env: {} });
    expect(config).toEqual(DEFAULT_CONFIG);
    // The values themselves, as Kata's agent has them: a runtime that passes nothing relies on these.
    expect(config).toMatchObject({
      serverAddr: 'vsock://-1:1024', // the runtime dials the guest's CID on port 1024
      logLevel: 'info',
      hotplugTimeoutMs: 3000, // agent.hotplug_timeout: 3 s
      launchProcessTimeoutMs: 6000, // agent.launch_process_timeout: 6 s
      containerPipeSize: 0, // the kernel's pipe size
      debugConsole: false,
      devMode: false,
      trace: false,
      // Off until asked: the runtime turns them on with agent.debug_console_vport=1026 and
      // agent.log_vport=1025 (read in the next test).
      debugConsoleVport: 0,
      logVport: 0,
    });
    // Ours, and off (or on) as the README says.
    expect(config).toMatchObject({ allowLocalPeers: false, grpc: true });
    expect(config.configFile).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('reads agent.* keys from a Kata kernel command line', () => {
    const { config } = loadConfig({ cmdline: KATA_CMDLINE, env: {} });
    expect(config).toMatchObject({
      logLevel: 'debug',
      debugConsole: true,
      debugConsoleVport: 1026,
      logVport: 1025,
      hotplugTimeoutMs: 7000,
      containerPipeSize: 65536,
      unifiedCgroupHierarchy: true,
    });
  });

  it('layers: config file < kernel command line < KATA_AGENT_* env < flags', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'agent.toml');
    writeFileSync(file, 'log_level = "warn"\nserver_addr = "unix:///from-file"\nhotplug_timeout = "5s"\ndev_mode = true\n');
    const base = { cmdline: `agent.config_file=${file}`, env: {} };
    expect(loadConfig(base).config).toMatchObject({ logLevel: 'warn', serverAddr: 'unix:///from-file', hotplugTimeoutMs: 5000, devMode: true });
    const withCmdline = { ...base, cmdline: `${base.cmdline} agent.server_addr=unix:///from-cmdline` };
    expect(loadConfig(withCmdline).config.serverAddr).toBe('unix:///from-cmdline');
    const withEnv = { ...withCmdline, env: { KATA_AGENT_SERVER_ADDR: 'unix:///from-env', KATA_AGENT_LOG_LEVEL: 'error' } };
    expect(loadConfig(withEnv).config).toMatchObject({ serverAddr: 'unix:///from-env', logLevel: 'error' });
    const withFlag = { ...withEnv, flags: [['server_addr', 'unix:///from-flag']] as Array<[string, string]> };
    expect(loadConfig(withFlag).config.serverAddr).toBe('unix:///from-flag');
  });

  it('reads a JSON config file too', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({ log_vport: 1025, debug_console: true }));
    expect(loadConfig({ cmdline: `agent.config_file=${file}`, env: {} }).config).toMatchObject({ logVport: 1025, debugConsole: true });
  });

  it('warns about unknown agent.* keys and does not fail', () => {
    const { warnings } = loadConfig({ cmdline: 'agent.no_such_key=1 agent.passfd_listener_port=1027', env: { KATA_AGENT_BOGUS: 'x' } });
    expect(warnings.map((w) => w.message)).toEqual(['unknown key agent.no_such_key ignored', 'unknown key agent.bogus ignored']);
  });

  it('refuses bad values with a message naming the key', () => {
    expect(() => loadConfig({ cmdline: 'agent.log_vport=abc', env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ cmdline: 'agent.log_vport=abc', env: {} })).toThrow(/agent.log_vport=abc/);
    expect(() => loadConfig({ cmdline: 'agent.log=loud', env: {} })).toThrow(/agent.log=loud/);
    expect(() => loadConfig({ cmdline: 'agent.config_file=/no/such/file.toml', env: {} })).toThrow(/\/no\/such\/file.toml: ENOENT/);
  });

  it('splits quoted command-line words', () => {
    expect(splitCmdline('a=1 b="x y" c')).toEqual([['a', '1'], ['b', 'x y'], ['c', true]]);
  });
});
