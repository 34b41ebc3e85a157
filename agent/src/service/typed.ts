// Turns a typed handler (plain request object in, plain response object out) into a ttRPC
// byte handler: decode, call, encode. Bad protobuf becomes INVALID_ARGUMENT, never a crash.
import { decodeMessage, encodeMessage, type MethodInfo } from '../proto/schema';
import type { CallContext, UnaryHandler } from '../ttrpc/registry';
import { Code, RpcError } from '../ttrpc/status';

// Requests and responses are the proto-named plain objects of proto/codec.ts.
export type Message = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
export type TypedHandler = (request: Message, ctx: CallContext) => Promise<Message> | Message;

export function decodeRequestOf(info: MethodInfo, bytes: Uint8Array): Message {
  try {
    return decodeMessage(info.requestType, bytes);
  } catch (err) {
    throw new RpcError(Code.INVALID_ARGUMENT, `${info.method}: bad request: ${(err as Error).message}`);
  }
}

export function encodeResponseOf(info: MethodInfo, response: Message): Uint8Array {
  try {
    return encodeMessage(info.responseType, response);
  } catch (err) {
    throw new RpcError(Code.INTERNAL, `${info.method}: cannot encode the response: ${(err as Error).message}`);
  }
}

export function toUnaryHandler(info: MethodInfo, handler: TypedHandler): UnaryHandler {
  return async (bytes, ctx) => encodeResponseOf(info, await handler(decodeRequestOf(info, bytes), ctx));
}
