// grpc.Health: the runtime polls Check right after boot, before any sandbox exists.
import type { GrpcHealthV1ServiceImpl, HealthServiceImpl } from './typed';

export const AGENT_VERSION = '0.1.0';
// What Kata's agent reports as its API ("grpc") version.
export const API_VERSION = '0.0.1';

export function healthHandlers() {
  return {
    Check: () => ({ status: 'SERVING' }),
    Version: () => ({ grpc_version: API_VERSION, agent_version: AGENT_VERSION }),
  } satisfies HealthServiceImpl;
}

/** The standard grpc.health.v1.Health, served on the gRPC face. */
export function grpcHealthV1Handlers() {
  return {
    Check: () => ({ status: 'SERVING' }),
  } satisfies GrpcHealthV1ServiceImpl;
}
