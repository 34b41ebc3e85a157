// The remote hypervisor service on a unix socket, over our own ttRPC: the wire side. Kata's
// runtime opens one connection per call; the connection's peer (SO_PEERCRED) is the shim whose
// mount namespace a VM must join.
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { unixPeerPid } from '../../../agent/src/native/peer';
import { findMethod } from '../../../agent/src/proto/schema';
import { toUnaryHandler, type TypedHandler } from '../../../agent/src/service/typed';
import { TtrpcServer } from '../../../agent/src/ttrpc/server';
import { Code, RpcError } from '../../../agent/src/ttrpc/status';
import { RemoteHypervisorError, type RemoteHypervisorErrorKind } from './errors';
import { type RemoteHypervisor, SERVICE_VERSION } from './service';

export const HYPERVISOR_SERVICE = 'hypervisor.Hypervisor';

const CODES: Record<RemoteHypervisorErrorKind, Code> = {
  invalid: Code.INVALID_ARGUMENT,
  'not-found': Code.NOT_FOUND,
  exists: Code.ALREADY_EXISTS,
  'failed-precondition': Code.FAILED_PRECONDITION,
  'boot-failed': Code.UNAVAILABLE,
  deadline: Code.DEADLINE_EXCEEDED,
  cancelled: Code.CANCELLED,
};

/** The one place where the service's failures become wire statuses. */
function toRpcError(method: string, err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof RemoteHypervisorError) return new RpcError(CODES[err.kind], err.message);
  return new RpcError(Code.INTERNAL, `${method}: ${(err as Error)?.message ?? String(err)}`);
}

function handlers(service: RemoteHypervisor, shimPid: () => number): Record<string, TypedHandler> {
  return {
    CreateVM: (r) => service.createVm(String(r.id), (r.annotations ?? {}) as Record<string, string>, shimPid()),
    StartVM: async (r, ctx) => {
      await service.startVm(String(r.id), ctx.deadline, ctx.signal);
      return {};
    },
    StopVM: async (r) => {
      await service.stopVm(String(r.id));
      return {};
    },
    Version: () => ({ version: SERVICE_VERSION }),
  };
}

export interface RunningService {
  socketPath: string;
  close(): Promise<void>;
}

export async function serveRemoteHypervisor(service: RemoteHypervisor, socketPath: string, onError?: (err: unknown) => void): Promise<RunningService> {
  await mkdir(path.dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  const servers = new Set<TtrpcServer>();
  const serveConnection = (socket: Socket): void => {
    let peer: number | undefined;
    const ttrpc = new TtrpcServer({ onInternalError: onError });
    for (const [method, handler] of Object.entries(handlers(service, () => {
      peer ??= unixPeerPid(socket);
      return peer;
    }))) {
      const info = findMethod(HYPERVISOR_SERVICE, method)!;
      ttrpc.register(HYPERVISOR_SERVICE, method, toUnaryHandler(info, async (req, ctx) => {
        try {
          return await handler(req, ctx);
        } catch (err) {
          throw toRpcError(method, err);
        }
      }));
    }
    servers.add(ttrpc);
    socket.once('close', () => servers.delete(ttrpc));
    ttrpc.serveConnection(socket);
  };
  const server: Server = createServer(serveConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600); // only root (the shim) may ask for VMs
  return {
    socketPath,
    close: async () => {
      // The listener finishes closing once its connections are gone.
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...servers].map((s) => s.close()));
      await closing;
      await service.close();
    },
  };
}
