// The agent's configuration: Kata's defaults, then agent.config_file, then the kernel command
// line (agent.*), then KATA_AGENT_* environment variables, then command-line flags.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical';

export interface AgentConfig {
  logLevel: LogLevel;
  serverAddr: string;
  debugConsole: boolean;
  debugConsoleVport: number;
  logVport: number;
  hotplugTimeoutMs: number;
  containerPipeSize: number; // 0 = the kernel's default pipe size
  devMode: boolean;
  trace: boolean;
  launchProcessTimeoutMs: number;
  configFile?: string;
  unifiedCgroupHierarchy: boolean;
  /** Ours: accept vsock peers other than the host (tests and debugging only). */
  allowLocalPeers: boolean;
  /** Ours: also serve gRPC (HTTP/2) on the same listener. */
  grpc: boolean;
  /**
   * Ours (off by default): a virtio-fs tag that CreateSandbox mounts at
   * /run/kata-containers/shared/containers when the request carries no storage for it. For VMs
   * whose runtime shares container rootfs over virtio-fs but sends no shared-fs storage (Kata's
   * `remote` hypervisor type); Kata's QEMU driver sends the storage itself.
   */
  sharedFsTag: string;
}

export const DEFAULT_CONFIG: Readonly<AgentConfig> = Object.freeze({
  logLevel: 'info',
  serverAddr: 'vsock://-1:1024',
  debugConsole: false,
  debugConsoleVport: 0,
  logVport: 0,
  hotplugTimeoutMs: 3000,
  containerPipeSize: 0,
  devMode: false,
  trace: false,
  launchProcessTimeoutMs: 6000,
  unifiedCgroupHierarchy: true,
  allowLocalPeers: false,
  grpc: true,
  sharedFsTag: '',
});

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'critical'];

export class ConfigError extends Error {}

type Setter = (cfg: AgentConfig, value: string | true, source: string) => void;

function parseBool(key: string, value: string | true, source: string): boolean {
  if (value === true) return true;
  const v = value.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${source}: ${key}=${value} is not a boolean`);
}

function parseUint(key: string, value: string | true, source: string): number {
  if (value === true || !/^\d+$/.test(value)) throw new ConfigError(`${source}: ${key}=${value === true ? '' : value} is not a non-negative integer`);
  return Number(value);
}

function parseSeconds(key: string, value: string | true, source: string): number {
  if (value === true || !/^\d+(\.\d+)?$/.test(value)) throw new ConfigError(`${source}: ${key}=${value === true ? '' : value} is not a number of seconds`);
  return Math.round(Number(value) * 1000);
}

function parseLevel(key: string, value: string | true, source: string): LogLevel {
  const v = value === true ? '' : value.toLowerCase();
  const alias: Record<string, LogLevel> = { warning: 'warn', fatal: 'critical', panic: 'critical' };
  const level = (alias[v] ?? v) as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`${source}: ${key}=${v} is not one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

// Keys as they appear after "agent." on the kernel command line (Kata's names).
const SETTERS: Record<string, Setter> = {
  log: (c, v, s) => (c.logLevel = parseLevel('agent.log', v, s)),
  server_addr: (c, v, s) => {
    if (v === true) throw new ConfigError(`${s}: agent.server_addr needs a value`);
    c.serverAddr = v;
  },
  debug_console: (c, v, s) => (c.debugConsole = parseBool('agent.debug_console', v, s)),
  debug_console_vport: (c, v, s) => (c.debugConsoleVport = parseUint('agent.debug_console_vport', v, s)),
  log_vport: (c, v, s) => (c.logVport = parseUint('agent.log_vport', v, s)),
  hotplug_timeout: (c, v, s) => (c.hotplugTimeoutMs = parseSeconds('agent.hotplug_timeout', v, s)),
  container_pipe_size: (c, v, s) => (c.containerPipeSize = parseUint('agent.container_pipe_size', v, s)),
  devmode: (c, v, s) => (c.devMode = parseBool('agent.devmode', v, s)),
  trace: (c, v, s) => (c.trace = parseBool('agent.trace', v, s)),
  launch_process_timeout: (c, v, s) => (c.launchProcessTimeoutMs = parseSeconds('agent.launch_process_timeout', v, s)),
  config_file: (c, v, s) => {
    if (v === true) throw new ConfigError(`${s}: agent.config_file needs a path`);
    c.configFile = v;
  },
  allow_local_peers: (c, v, s) => (c.allowLocalPeers = parseBool('agent.allow_local_peers', v, s)),
  grpc: (c, v, s) => (c.grpc = parseBool('agent.grpc', v, s)),
  shared_fs_tag: (c, v, s) => {
    if (v === true || !/^[A-Za-z0-9_.-]{1,36}$/.test(v)) throw new ConfigError(`${s}: agent.shared_fs_tag needs a virtio-fs tag (1-36 letters, digits, '_', '.', '-')`);
    c.sharedFsTag = v;
  },
};

// Keys Kata's agent knows that we accept without acting on them (no warning).
const KNOWN_IGNORED = new Set([
  'passfd_listener_port',
  'cdh_api_timeout',
  'https_proxy',
  'no_proxy',
  'guest_components_rest_api',
  'guest_components_procs',
  'image_registry_auth',
  'enable_signature_verification',
  'image_policy_file',
  'secure_image_storage_integrity',
  'mem_agent_enable',
]);

export interface ConfigWarning {
  source: string;
  message: string;
}

/** Splits a kernel command line into key/value pairs, honouring double quotes. */
export function splitCmdline(cmdline: string): Array<[string, string | true]> {
  const out: Array<[string, string | true]> = [];
  const re = /(?:[^\s"]+|"[^"]*")+/g;
  for (const m of cmdline.matchAll(re)) {
    const word = m[0].replace(/"/g, '');
    const eq = word.indexOf('=');
    out.push(eq < 0 ? [word, true] : [word.slice(0, eq), word.slice(eq + 1)]);
  }
  return out;
}

function applyKey(cfg: AgentConfig, key: string, value: string | true, source: string, warnings: ConfigWarning[]): void {
  const setter = SETTERS[key];
  if (setter) setter(cfg, value, source);
  else if (!KNOWN_IGNORED.has(key)) warnings.push({ source, message: `unknown key agent.${key} ignored` });
}

export function applyCmdline(cfg: AgentConfig, cmdline: string, warnings: ConfigWarning[], source = 'kernel command line'): void {
  for (const [key, value] of splitCmdline(cmdline)) {
    if (key.startsWith('agent.')) applyKey(cfg, key.slice('agent.'.length), value, source, warnings);
    else if (key === 'systemd.unified_cgroup_hierarchy') cfg.unifiedCgroupHierarchy = parseBool(key, value, source);
  }
}

/** KATA_AGENT_<KEY> for every agent.<key> (upper case); KATA_AGENT_LOG_LEVEL is an alias of agent.log. */
export function applyEnv(cfg: AgentConfig, env: NodeJS.ProcessEnv, warnings: ConfigWarning[]): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('KATA_AGENT_') || value === undefined) continue;
    const key = name.slice('KATA_AGENT_'.length).toLowerCase();
    applyKey(cfg, key === 'log_level' ? 'log' : key, value, `environment ${name}`, warnings);
  }
}

// Kata's agent config file keys (TOML) mapped onto our command-line keys.
const FILE_KEYS: Record<string, string> = {
  log_level: 'log',
  dev_mode: 'devmode',
  debug_console: 'debug_console',
  debug_console_vport: 'debug_console_vport',
  log_vport: 'log_vport',
  hotplug_timeout: 'hotplug_timeout',
  container_pipe_size: 'container_pipe_size',
  server_addr: 'server_addr',
  trace: 'trace',
  launch_process_timeout: 'launch_process_timeout',
  allow_local_peers: 'allow_local_peers',
  grpc: 'grpc',
  shared_fs_tag: 'shared_fs_tag',
};

export function applyConfigObject(cfg: AgentConfig, obj: Record<string, unknown>, source: string, warnings: ConfigWarning[]): void {
  for (const [fileKey, raw] of Object.entries(obj)) {
    const key = FILE_KEYS[fileKey];
    if (!key) {
      if (fileKey !== 'unified_cgroup_hierarchy' && fileKey !== 'endpoints') warnings.push({ source, message: `unknown key ${fileKey} ignored` });
      continue;
    }
    // hotplug_timeout in Kata's file is a duration; accept seconds as number or "3s".
    const text = typeof raw === 'string' ? raw.replace(/s$/, '') : String(raw);
    applyKey(cfg, key, text, source, warnings);
  }
}
