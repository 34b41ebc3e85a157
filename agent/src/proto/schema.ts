// The agent's protobuf schema and codec: message, enum and service descriptions (reflect.ts,
// from the table generated from our .proto files) and conversions of messages (codec.ts).
// Field names are kept as written in the .proto files, so objects and JSON use the proto names
// (`container_id`, `OCI`), the same as Kata's own JSON tools.
export { decodeMessage, encodeMessage, messageFromJson, messageToJson, setEntry } from './codec';
export { EnumType, Field, INT64_TYPES, MessageType, type MethodInfo, enumType, messageType, serviceMethods } from './reflect';
import { type MethodInfo, serviceMethods } from './reflect';

export const AGENT_SERVICE = 'grpc.AgentService';
export const HEALTH_SERVICE = 'grpc.Health';
export const GRPC_HEALTH_V1_SERVICE = 'grpc.health.v1.Health';

export function findMethod(service: string, method: string): MethodInfo | undefined {
  return serviceMethods(service).find((m) => m.method === method);
}
