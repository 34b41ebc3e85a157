// The agent as a V8 startup snapshot: `node --snapshot-blob agent.blob -- ARGS`. The image builder
// runs the CommonJS bundle (dist/agent-snapshot.cjs) under `node --build-snapshot` with the guest's
// own node binary; what the bundle does while the snapshot is built (load every module, and the
// warm-up below) is then done once at image build instead of at every boot.
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { once } from 'node:events';
import { Duplex, PassThrough } from 'node:stream';
import v8 from 'node:v8';
import { loadConfig } from './config/load';
import { sniffProtocol } from './grpc/sniff';
import { Logger } from './log/logger';
import { serviceMethods, AGENT_SERVICE, GRPC_HEALTH_V1_SERVICE, HEALTH_SERVICE } from './proto/schema';
import { buildAgentImpl } from './service/agent-impl';
import { agentServices, registerTtrpc } from './service/services';
import { parseAddress } from './transport/address';
import { encodeFrame, FrameType } from './ttrpc/frame';
import { encodeRequest } from './ttrpc/messages';
import { TtrpcServer } from './ttrpc/server';

/** The file name of the bundle beside the blob: where addons are looked up from. */
const BUNDLE_BESIDE_BLOB = 'agent.js';

/**
 * In the CommonJS bundle, `import.meta.url` and `__dirname` (node-pty's) read these globals
 * (scripts/build.mjs defines them so): paths must be the ones of the running guest, not of the
 * machine that built the snapshot.
 */
interface BundleLocation {
  __kataAgentUrl?: string;
  __kataAgentDir?: string;
}

let runningFromSnapshot = false;

export function isBuildingSnapshot(): boolean {
  // Node 20 answers 1 or 0, not a boolean.
  return Boolean(v8.startupSnapshot?.isBuildingSnapshot?.());
}

export function prepareSnapshot(main: () => void): void {
  warmUp();
  v8.startupSnapshot.setDeserializeMainFunction(() => {
    runningFromSnapshot = true;
    const blob = blobPath(process.execArgv);
    // Paths captured while building point into the build machine's tree; files beside the
    // blob (the native addons) are found from where the blob is now.
    if (blob) {
      const location = globalThis as BundleLocation;
      location.__kataAgentDir = dirname(resolve(blob));
      location.__kataAgentUrl = pathToFileURL(join(location.__kataAgentDir, BUNDLE_BESIDE_BLOB)).href;
    }
    main();
  });
}

/** The agent's own arguments: `node agent.js ARGS` or `node --snapshot-blob B -- ARGS`. */
export function agentArgv(): string[] {
  return process.argv.slice(runningFromSnapshot ? 1 : 2);
}

export function blobPath(execArgv: readonly string[]): string | undefined {
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (a === '--snapshot-blob') return execArgv[i + 1];
    if (a.startsWith('--snapshot-blob=')) return a.slice('--snapshot-blob='.length);
  }
  return undefined;
}

// The services' method tables are built here; the message types they name are built on first use
// (reflect.ts), so the snapshot holds only those the warm-up call below touches.
function warmUp(): void {
  for (const service of [AGENT_SERVICE, HEALTH_SERVICE, GRPC_HEALTH_V1_SERVICE]) serviceMethods(service);
  // Node's built-in modules that the start-up loads on first use rather than at import: a
  // listening net.Server requires cluster (and its five internal modules). Loaded here, they
  // are in the snapshot instead of compiled from source at each boot.
  for (const id of BUILTINS_LOADED_LATE) createRequire(import.meta.url)(id);
  // Functions that run now keep their bytecode in the snapshot (the image builder keeps compiled
  // code); the others are compiled from source at each boot. So the start-up's steps run once
  // here, on made-up input, where they have no side effects: reading the kernel command line and
  // the config, logging (to nowhere), parsing listen addresses, constructing the services and
  // the ttRPC server's method table. (What they build is dropped. A step that left a handle open
  // would fail the snapshot build; one that touched the addon, which a snapshot cannot hold, too.)
  const log = Logger.create('debug', [{ write: () => undefined }]);
  const { config, warnings } = loadConfig({ env: {}, flags: [['server_addr', 'vsock://-1:1024'], ['log', 'debug']] });
  log.child({ subsystem: 'warm-up' }).info('warm-up', { config, warnings, error: new Error('warm-up') });
  for (const address of WARM_UP_ADDRESSES) parseAddress(address);
  const impl = buildAgentImpl({ config, log, policyFile: '/nonexistent/kata-agent-warm-up-policy' });
  const server = new TtrpcServer();
  registerTtrpc(server, agentServices(impl.handlers));
  void warmUpFirstCall(server);
}

/**
 * The first call a runtime makes, Health Check, through the path every call takes (protocol
 * sniffing, ttRPC frames, dispatch, protobuf decode and encode), over an in-memory connection.
 * Its code is then compiled in the snapshot instead of at the first call of each boot, where it
 * made the first answer ten times slower than the next. The builder runs the event loop until
 * the answer is back.
 */
async function warmUpFirstCall(server: TtrpcServer): Promise<void> {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const serverSide = Duplex.from({ readable: toServer, writable: toClient });
  sniffProtocol(serverSide, (s) => server.serveConnection(s), (s) => s.destroy());
  const answered = once(toClient, 'data');
  toServer.write(encodeFrame(1, FrameType.Request, 0, encodeRequest({ service: HEALTH_SERVICE, method: 'Check', payload: Buffer.alloc(0) })));
  try {
    await answered;
  } finally {
    serverSide.destroy();
    await server.close();
  }
}

const WARM_UP_ADDRESSES = ['vsock://-1:1024', 'unix:///run/kata-agent.sock', 'unix://@kata-agent', 'serial:///dev/virtio-ports/agent.channel.0'];

const BUILTINS_LOADED_LATE = ['node:cluster'];
