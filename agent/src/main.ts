// Entry point of the bundled agent (dist/agent.js): as PID 1 in a Kata guest, or as an
// ordinary process (tests, or a service under another init).
import { startAgent } from './agent';
import { type AgentConfig, ConfigError } from './config/config';
import { loadConfig } from './config/load';
import { serveDebugConsole, startConsoleShell } from './debug/console';
import { consoleSink, fdSink, stderrLogSink } from './init/console';
import { cgroupControllersOnce, exitOnUncaughtException, handleSignals, holdUntilPowerOff, isInitProcess, setupSystem, startReaper } from './init/pid1';
import { Shutdown } from './init/shutdown';
import { Logger, stderrSink } from './log/logger';
import { GuestNetwork } from './network/network';
import { LogVportSink, serveLogVport } from './log/vport';
import { buildAgentImpl } from './service/agent-impl';
import { AGENT_VERSION } from './service/health';
import { agentArgv, isBuildingSnapshot, prepareSnapshot } from './startup-snapshot';

const USAGE = `usage: agent [options]
  --server-addr ADDR    listen address(es), comma-separated (unix:///path, unix://@name,
                        vsock://-1:PORT, serial:///dev/virtio-ports/NAME)
  --config-file PATH    agent config file (TOML or JSON)
  --cmdline TEXT        use TEXT instead of /proc/cmdline for agent.* keys
  --log-level LEVEL     trace, debug, info, warn, error, critical
  --allow-local-peers   accept vsock peers other than the host (tests only)
  --no-grpc             serve ttRPC only
  --exit-when-ready     exit 0 right after "agent ready" (start-up measurements; not as PID 1)
  --version             print the version`;

interface Args {
  flags: Array<[string, string | true]>;
  cmdline?: string;
  exitWhenReady?: boolean;
}

function parseArgs(argv: string[]): Args | 'help' | 'version' {
  const flags: Array<[string, string | true]> = [];
  let cmdline: string | undefined;
  let exitWhenReady = false;
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
      case '--exit-when-ready':
        exitWhenReady = true;
        break;
      default:
        throw new ConfigError(`unknown option ${a}\n${USAGE}`);
    }
  }
  return { flags, cmdline, exitWhenReady };
}

async function startSideServices(config: AgentConfig, log: Logger, logVport: LogVportSink | undefined): Promise<void> {
  const peerRules = {
    allowLocalPeers: config.allowLocalPeers,
    onRefused: (peer: object, reason: string) => log.warn('refused connection', { peer, reason }),
  };
  if (logVport) await serveLogVport(`vsock://-1:${config.logVport}`, logVport, peerRules);
  if (config.debugConsoleVport) {
    await serveDebugConsole(`vsock://-1:${config.debugConsoleVport}`, log.child({ subsystem: 'debug-console' }), peerRules);
  }
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/**
 * Seconds since the kernel booted, so boot benchmarks can place "agent ready": CLOCK_MONOTONIC
 * (Node's hrtime), which counts from boot as /proc/uptime does, but to the nanosecond rather
 * than to 10 ms.
 */
function systemUptime(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1e6;
}

async function main(): Promise<void> {
  const args = parseArgs(agentArgv());
  if (args === 'help') return void console.log(USAGE);
  if (args === 'version') return void console.log(AGENT_VERSION);

  // Where start-up time goes, in seconds of this process's life (process.uptime()): Node's own
  // start plus loading the bundle ends at 'main'; the ready line reports each step's end.
  const startup: Record<string, number> = { main: round(process.uptime()) };
  const mark = (step: string): void => void (startup[step] = round(process.uptime()));
  const isInit = isInitProcess();
  // As PID 1, /proc (for the command line) and /dev (for the console) come first.
  const bootLog = Logger.create('info', [isInit ? fdSink(2) : stderrSink]);
  if (isInit) setupSystem(bootLog);
  mark('mounts');
  const log = Logger.create('info', [isInit ? consoleSink() : stderrLogSink()]);
  const shutdown = new Shutdown(log, isInit);
  exitOnUncaughtException(log, shutdown);
  // PID 1 exiting would panic the kernel.
  const exitWhenReady = args.exitWhenReady === true && !isInit;
  if (args.exitWhenReady && isInit) log.warn('--exit-when-ready ignored: PID 1 does not exit');
  handleSignals(log, shutdown);

  try {
    const { config, warnings } = loadConfig({ cmdline: args.cmdline, flags: args.flags });
    log.setLevel(config.logLevel);
    for (const w of warnings) log.warn(w.message, { from: w.source });
    const logVport = config.logVport ? new LogVportSink() : undefined;
    if (logVport) log.addSink(logVport);
    mark('config');

    try {
      startReaper(log.child({ subsystem: 'reaper' }));
    } catch (err) {
      log.warn('orphan reaping unavailable', { error: err });
    }
    mark('reaper');
    const network = isInit ? new GuestNetwork({ log: log.child({ subsystem: 'network' }) }) : undefined;
    const prepareCgroups = isInit ? cgroupControllersOnce(log.child({ subsystem: 'cgroups' })) : undefined;
    const impl = buildAgentImpl({
      config,
      log,
      network,
      prepareCgroups,
      // As the guest's init, a destroyed sandbox means the VM's work is done.
      onSandboxDestroyed: isInit ? () => void shutdown.run('DestroySandbox') : undefined,
    });
    shutdown.onShutdown('containers and storages', () => impl.teardown());
    mark('services');
    const agent = await startAgent(config, log, { agentImpl: impl.handlers });
    mark('listening');
    shutdown.onShutdown('rpc server', () => agent.close());
    await startSideServices(config, log, logVport);
    mark('ready');
    log.info('agent ready', { address: agent.address, version: AGENT_VERSION, pid1: isInit, uptime: systemUptime(), startup });
    if (exitWhenReady) return process.exit(0);
    // Not needed to serve, so after "ready": the guest's init brings lo up, as Kata's agent
    // does (the runtime configures the rest; the network's reads wait for it), enables the
    // cgroup controllers (CreateContainer does it first if it comes first), and the serial
    // debug shell starts (what is typed before it runs waits in the tty).
    network?.bringLoopbackUp().catch((err: unknown) => log.warn('cannot bring lo up', { error: err }));
    prepareCgroups?.();
    if (config.debugConsole) startConsoleShell(log.child({ subsystem: 'debug-console' }));
  } catch (err) {
    if (!isInit) throw err;
    // PID 1 must not exit (the kernel would panic); say why on the console and power off.
    log.critical('agent failed to start', { error: err });
    await shutdown.run(`start failed: ${(err as Error).message}`);
  }
}

function runMain(): void {
  // As PID 1, before any step that can fail: from here on only the power-off ends this process.
  const initLog = isInitProcess() ? Logger.create('info', [fdSink(2)]) : undefined;
  if (initLog) holdUntilPowerOff(initLog);
  main().catch((err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    if (initLog) {
      // A failure before main's own guard (arguments, early mounts): say why and power off.
      initLog.critical('agent failed to start', { error: err });
      return void new Shutdown(initLog, true).run(`start failed: ${msg}`);
    }
    process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), level: 'critical', msg: `agent failed to start: ${msg}`, name: 'kata-agent' }) + '\n');
    process.exitCode = 1;
  });
}

if (isBuildingSnapshot()) {
  // Built into a V8 startup snapshot (see startup-snapshot.ts): the work done now is
  // skipped at every boot; main runs when the snapshot is deserialized.
  prepareSnapshot(runMain);
} else {
  runMain();
}
