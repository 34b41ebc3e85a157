// Wires the layers together: transport -> (ttRPC | gRPC) -> service handlers -> domain modules.
import type { Duplex } from 'node:stream';
import type { AgentConfig } from './config/config';
import type { GrpcFace } from './grpc/face';
import { sniffProtocol } from './grpc/sniff';
import type { Logger } from './log/logger';
import { withCallLog } from './service/call-log';
import { agentCallWeight } from './service/call-weights';
import { agentServices, registerTtrpc } from './service/services';
import type { TypedHandler } from './service/typed';
import { listenAddress, type Listener, type PeerInfo } from './transport/listen';
import { TtrpcServer } from './ttrpc/server';

export interface RunningAgent {
  readonly address: string;
  readonly ttrpc: TtrpcServer;
  close(): Promise<void>;
}

export interface AgentParts {
  /** AgentService method implementations by method name; the rest answer UNIMPLEMENTED. */
  agentImpl?: Record<string, TypedHandler>;
}

export async function startAgent(config: AgentConfig, log: Logger, parts: AgentParts = {}): Promise<RunningAgent> {
  const rpcLog = log.child({ subsystem: 'rpc' });
  const services = withCallLog(agentServices(parts.agentImpl ?? {}), rpcLog);
  const ttrpc = new TtrpcServer({
    // Bounded work (ttrpc/admission.ts): the limits are the server's defaults, the weights ours.
    callWeight: agentCallWeight,
    onInternalError: (err, where) => log.error('internal error', { where, error: err }),
  });
  registerTtrpc(ttrpc, services);
  // grpc-js is most of the bundle and no Kata runtime speaks gRPC to the agent: it is loaded
  // when the first HTTP/2 connection arrives, not at start (start time and idle memory).
  let grpcFace: Promise<GrpcFace> | undefined;
  const loadGrpcFace = (): Promise<GrpcFace> =>
    (grpcFace ??= import('./grpc/face').then((m) => m.createGrpcFace(services)));

  const listeners: Listener[] = [];
  const addresses = config.serverAddr.split(',').map((a) => a.trim()).filter(Boolean);
  const onConnection = (socket: Duplex, peer: PeerInfo) => {
    rpcLog.debug('connection', { peer });
    socket.on('error', (err) => rpcLog.debug('connection error', { error: err }));
    sniffProtocol(
      socket,
      (s) => ttrpc.serveConnection(s, { clientsRestartAtStreamOne: peer.sharedByClients }),
      (s) => {
        if (!config.grpc) return void s.destroy();
        loadGrpcFace().then(
          // The peer may have gone while grpc-js loaded; its bytes wait in the stream meanwhile.
          (face) => (s.destroyed ? undefined : face.serve(s)),
          (err: unknown) => {
            rpcLog.error('gRPC unavailable', { error: err });
            s.destroy();
          },
        );
      },
    );
  };
  const close = async () => {
    await Promise.all([...listeners.map((l) => l.close()), ttrpc.close()]);
    await grpcFace?.then((face) => face.close(), () => undefined);
  };
  try {
    for (const address of addresses) {
      listeners.push(
        await listenAddress(address, onConnection, {
          allowLocalPeers: config.allowLocalPeers,
          onRefused: (peer, reason) => rpcLog.warn('refused connection', { peer, reason }),
        }),
      );
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { address: addresses.join(','), ttrpc, close };
}
