// The agent as the container integration tests run it: startAgent with the container service,
// a real StorageManager whose virtio-fs driver bind-mounts a host directory (no virtiofsd
// here), the orphan reaper, and crun with the cgroup manager this host needs. Options come as
// JSON in KATA_TEST_AGENT (see container-agent.ts). Bundled by the test helper, not shipped.
import { startAgent } from '../../agent/src/agent';
import { DEFAULT_CONFIG } from '../../agent/src/config/config';
import { Logger } from '../../agent/src/log/logger';
import { OrphanReaper } from '../../agent/src/native/orphan-reaper';
import { buildPod } from '../../agent/src/service/agent-impl';
import { createContainerService } from '../../agent/src/service/container-service';
import { GuestPathConfinement } from '../../agent/src/storage/confinement';
import { StorageManager } from '../../agent/src/storage/manager';
import { bindDirectoryAsSharedFs } from './storage-testing';

interface EntryOptions {
  address: string;
  sharedDir: string;
  cgroupManager: 'cgroupfs' | 'disabled';
  logLevel?: 'debug' | 'info';
  containerPipeSize?: number;
  guestSeccomp?: boolean;
  /** Host directories a container's root.path or bind sources may name besides Kata's roots. */
  extraGuestRoots?: string[];
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.env.KATA_TEST_AGENT ?? '{}') as EntryOptions;
  const log = Logger.create(opts.logLevel ?? 'info');
  const reaper = new OrphanReaper().start();
  reaper.on('error', (err) => log.error('orphan reaper', { error: err }));
  const config = { ...DEFAULT_CONFIG, serverAddr: opts.address, containerPipeSize: opts.containerPipeSize ?? 0, grpc: false };
  const storage = new StorageManager({ log, hotplugTimeoutMs: config.hotplugTimeoutMs, drivers: { 'virtio-fs': bindDirectoryAsSharedFs(opts.sharedDir) } });
  let destroyed = false;
  const pod = buildPod({
    config,
    log,
    storage,
    runtime: { cgroupManager: opts.cgroupManager },
    guestSeccomp: opts.guestSeccomp,
    confinement: new GuestPathConfinement({ extraRoots: opts.extraGuestRoots ?? [] }),
    onDestroyed: () => {
      destroyed = true;
      log.info('sandbox destroyed: a guest would power off now');
    },
  });
  const agent = await startAgent(config, log, { agentImpl: createContainerService({ log, ...pod }) });
  log.info('agent ready', { address: agent.address });
  const stop = async () => {
    if (!destroyed && pod.sandbox.current()) await pod.sandbox.destroy().catch((err: unknown) => log.error('destroy on exit', { error: err }));
    await agent.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 'critical', msg: `test agent failed: ${(err as Error).stack ?? String(err)}` })}\n`);
  process.exit(1);
});
