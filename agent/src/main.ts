// Entry point of the bundled agent (dist/agent.js): as PID 1 in a Kata guest, or as an
// ordinary process (tests, or a service under another init).
import { startAgent } from './agent';
import { ConfigError } from './config/config';
import { loadConfig } from './config/load';
import { Logger } from './log/logger';
import { AGENT_VERSION } from './service/health';

const USAGE = `usage: agent [options]
  --server-addr ADDR    listen address (unix:///path, unix://@name, vsock://-1:PORT)
  --config-file PATH    agent config file (TOML or JSON)
  --cmdline TEXT        use TEXT instead of /proc/cmdline for agent.* keys
  --log-level LEVEL     trace, debug, info, warn, error, critical
  --allow-local-peers   accept vsock peers other than the host (tests only)
  --no-grpc             serve ttRPC only
  --version             print the version`;

interface Args {
  flags: Array<[string, string | true]>;
  cmdline?: string;
}

function parseArgs(argv: string[]): Args | 'help' | 'version' {
  const flags: Array<[string, string | true]> = [];
  let cmdline: string | undefined;
  const valueOf = (i: number, name: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new ConfigError(`${name} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--help':
      case '-h':
        return 'help';
      case '--version':
        return 'version';
      case '--server-addr':
        flags.push(['server_addr', valueOf(i++, a)]);
        break;
      case '--config-file':
        flags.push(['config_file', valueOf(i++, a)]);
        break;
      case '--log-level':
        flags.push(['log', valueOf(i++, a)]);
        break;
      case '--cmdline':
        cmdline = valueOf(i++, a);
        break;
      case '--allow-local-peers':
        flags.push(['allow_local_peers', true]);
        break;
      case '--no-grpc':
        flags.push(['grpc', 'false']);
        break;
      default:
        throw new ConfigError(`unknown option ${a}\n${USAGE}`);
    }
  }
  return { flags, cmdline };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args === 'help') return void console.log(USAGE);
  if (args === 'version') return void console.log(AGENT_VERSION);
  const { config, warnings } = loadConfig({ cmdline: args.cmdline, flags: args.flags });
  const log = Logger.create(config.logLevel);
  for (const w of warnings) log.warn(w.message, { from: w.source });

  const isInit = process.pid === 1;
  process.on('uncaughtException', (err) => log.critical('uncaught exception', { error: err }));
  process.on('unhandledRejection', (err) => log.critical('unhandled rejection', { error: err }));

  const agent = await startAgent(config, log);
  log.info('agent ready', { address: agent.address, version: AGENT_VERSION, pid1: isInit });

  const stop = (signal: string) => {
    if (isInit) return void log.warn('ignoring signal as PID 1', { signal });
    log.info('shutting down', { signal });
    void agent.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), level: 'critical', msg: `agent failed to start: ${msg}`, name: 'kata-agent' }) + '\n');
  process.exitCode = 1;
});
