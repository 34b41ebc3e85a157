export { TtrpcClient, type CallOptions, type ClientStream } from './client';
export { TtrpcServer, type ServerOptions } from './server';
export type { CallContext, UnaryHandler, StreamHandler, ServerStream } from './registry';
export { Code, RpcError, statusFromError, codeName } from './status';
export { MAX_PAYLOAD_BYTES, HEADER_BYTES, FrameType, Flag, encodeFrame } from './frame';
