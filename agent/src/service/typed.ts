// Turns a typed handler (plain request object in, plain response object out) into a ttRPC
// byte handler: decode, call, encode. Bad protobuf becomes INVALID_ARGUMENT, never a crash.
//
// Two views of a handler. Handler<'CreateContainer'> is what a service module writes: its request
// is the method's decoded request (proto/messages.generated.ts, the shape decodeMessage gives) and
// it returns the response as encodeMessage takes it, so a misspelled field or a wrong answer fails
// tsc. TypedHandler is the same function as the layers that treat every method alike see it (the
// registry, policy, metrics, the call log): any request object in, any response object out.
import type { AgentServiceMethods, HealthMethods, GrpcHealthV1HealthMethods } from '../proto/messages.generated';
import { decodeMessage, encodeMessage, type MethodInfo } from '../proto/schema';
import type { CallContext, UnaryHandler } from '../ttrpc/registry';
import { Code, RpcError } from '../ttrpc/status';

// Requests and responses are the proto-named plain objects of proto/codec.ts.
export type Message = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * A handler of any method. Its request parameter is checked both ways (as a method's are), so that
 * a Handler<M> is one: what reaches it is what decodeRequestOf gave for its own method.
 */
export type TypedHandler = { handle(request: Message, ctx: CallContext): Promise<Message> | Message }['handle'];

/** A method's request and response types, as the generated service maps give them. */
interface MethodTypes {
  request: object;
  responseInit: object;
}

/** The handler of a method whose types are `T`. */
export type HandlerOf<T extends MethodTypes> = (request: T['request'], ctx: CallContext) => Promise<T['responseInit']> | T['responseInit'];

/** The handler of AgentService method `M`. */
export type Handler<M extends keyof AgentServiceMethods> = HandlerOf<AgentServiceMethods[M]>;

/** Handlers of some of a service's methods, by method name. */
export type ServiceImpl<Methods extends { [M in keyof Methods]: MethodTypes }> = { [M in keyof Methods]?: HandlerOf<Methods[M]> };

export type AgentServiceImpl = ServiceImpl<AgentServiceMethods>;
export type HealthServiceImpl = ServiceImpl<HealthMethods>;
export type GrpcHealthV1ServiceImpl = ServiceImpl<GrpcHealthV1HealthMethods>;

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
