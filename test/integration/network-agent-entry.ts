// The agent with the network service, as the end-to-end network test runs it inside a test
// network namespace: startAgent on the unix socket named in KATA_TEST_NET_AGENT, ttRPC and all.
// Bundled by network-agent.test.ts, not shipped.
import { startAgent } from '../../agent/src/agent';
import { DEFAULT_CONFIG } from '../../agent/src/config/config';
import { Logger } from '../../agent/src/log/logger';
import { networkServiceHandlers } from '../../agent/src/service/network-service';

async function main(): Promise<void> {
  const address = process.env.KATA_TEST_NET_AGENT ?? '';
  const log = Logger.create('info');
  const config = { ...DEFAULT_CONFIG, serverAddr: address, grpc: false };
  const agent = await startAgent(config, log, { agentImpl: networkServiceHandlers({ log, hotplugTimeoutMs: config.hotplugTimeoutMs }) });
  log.info('agent ready', { address: agent.address });
  const stop = async () => {
    await agent.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 'critical', msg: `test agent failed: ${(err as Error).stack ?? String(err)}` })}\n`);
  process.exit(1);
});
