// The gRPC (HTTP/2) face of the same services, for standard gRPC tooling and health checks.
// grpc-js serves connections we hand it (connection injection), so one listener carries both
// protocols; see sniff.ts for how a connection is told apart.
import * as grpc from '@grpc/grpc-js';
import type { Duplex } from 'node:stream';
import { GRPC_HEALTH_V1_SERVICE, serviceMethods } from '../proto/schema';
import { grpcHealthV1Handlers } from '../service/health';
import type { ServiceHandlers } from '../service/services';
import { decodeRequestOf, encodeResponseOf } from '../service/typed';
import type { CallContext } from '../ttrpc/registry';
import { Code, RpcError, statusFromError } from '../ttrpc/status';

export interface GrpcFace {
  serve(socket: Duplex): void;
  close(): void;
}

function contextOf(call: grpc.ServerUnaryCall<unknown, unknown>, service: string, method: string): CallContext {
  const abort = new AbortController();
  const metadata = new Map<string, string[]>();
  for (const [k, v] of Object.entries(call.metadata.getMap())) metadata.set(k, [String(v)]);
  const deadline = call.getDeadline();
  const ctx: CallContext = { service, method, metadata, signal: abort.signal };
  if (deadline instanceof Date) ctx.deadline = deadline.getTime();
  else if (typeof deadline === 'number' && Number.isFinite(deadline)) ctx.deadline = deadline;
  // grpc-js reports a passed deadline as 'cancelled' too; abort with the reason ttRPC gives
  // (its timer and Date.now() may disagree by a millisecond or so).
  call.on('cancelled', () => {
    const timedOut = ctx.deadline !== undefined && Date.now() + 5 >= ctx.deadline;
    abort.abort(timedOut ? new RpcError(Code.DEADLINE_EXCEEDED, `${method}: deadline exceeded`) : new RpcError(Code.CANCELLED, 'client cancelled'));
  });
  return ctx;
}

export function createGrpcFace(services: ServiceHandlers): GrpcFace {
  const server = new grpc.Server();
  const all: ServiceHandlers = new Map(services);
  all.set(GRPC_HEALTH_V1_SERVICE, grpcHealthV1Handlers());
  for (const [service, impl] of all) {
    const definition: Record<string, grpc.MethodDefinition<Buffer, Uint8Array>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const info of serviceMethods(service)) {
      const handler = impl[info.method];
      if (!handler || info.requestStream || info.responseStream) continue; // Watch (streaming) is not served
      definition[info.method] = {
        path: `/${service}/${info.method}`,
        requestStream: false,
        responseStream: false,
        // Decoding happens in the handler so bad input gets INVALID_ARGUMENT, not a transport error.
        requestDeserialize: (b: Buffer) => b,
        requestSerialize: (b: Buffer) => b,
        responseSerialize: (b: Uint8Array) => Buffer.from(b),
        responseDeserialize: (b: Buffer) => b,
      };
      implementation[info.method] = (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
        const ctx = contextOf(call, service, info.method);
        Promise.resolve()
          .then(async () => encodeResponseOf(info, await handler(decodeRequestOf(info, call.request), ctx)))
          .then(
            (bytes) => callback(null, bytes),
            (err) => {
              const status = statusFromError(err);
              callback({ code: status.code as number, details: status.message, name: 'RpcError', message: status.message });
            },
          );
      };
    }
    server.addService(definition, implementation);
  }
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  return {
    serve: (socket) => injector.injectConnection(socket),
    close: () => {
      injector.destroy();
      server.forceShutdown();
    },
  };
}
