// Reads the sources of the configuration from the system and merges them in order.
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import {
  type AgentConfig,
  applyCmdline,
  applyConfigObject,
  applyEnv,
  ConfigError,
  type ConfigWarning,
  DEFAULT_CONFIG,
} from './config';

export interface LoadOptions {
  /** Kernel command line text; defaults to /proc/cmdline. */
  cmdline?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line flags of the agent process (agent.* keys without the prefix). */
  flags?: Array<[string, string | true]>;
}

export interface LoadedConfig {
  config: AgentConfig;
  warnings: ConfigWarning[];
}

function readCmdline(): string {
  try {
    return readFileSync('/proc/cmdline', 'utf8');
  } catch {
    return '';
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`agent.config_file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return path.endsWith('.json') ? (JSON.parse(text) as Record<string, unknown>) : (parseToml(text) as Record<string, unknown>);
  } catch (err) {
    throw new ConfigError(`agent.config_file ${path}: ${(err as Error).message}`);
  }
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const warnings: ConfigWarning[] = [];
  const cmdline = opts.cmdline ?? readCmdline();
  const env = opts.env ?? process.env;
  const flags = opts.flags ?? [];
  const flagLine = flags.map(([k, v]) => (v === true ? `agent.${k}` : `agent.${k}=${v}`)).join(' ');

  // The config file's path may come from any layer; the file sits below all of them.
  const probe: AgentConfig = { ...DEFAULT_CONFIG };
  applyCmdline(probe, cmdline, []);
  applyEnv(probe, env, []);
  applyCmdline(probe, flagLine, [], 'flags');

  const config: AgentConfig = { ...DEFAULT_CONFIG };
  if (probe.configFile) {
    applyConfigObject(config, readConfigFile(probe.configFile), probe.configFile, warnings);
    config.configFile = probe.configFile;
  }
  applyCmdline(config, cmdline, warnings);
  applyEnv(config, env, warnings);
  applyCmdline(config, flagLine, warnings, 'flags');
  return { config, warnings };
}
