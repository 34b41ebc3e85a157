// The agent's protobuf schema: our .proto texts (embedded in the bundle as strings) parsed into
// one protobufjs Root on first use. Nothing is read from disk or the network at run time.
// Field names are kept as written in the .proto files (keepCase), so objects and JSON use the
// proto names (`container_id`, `OCI`), the same as Kata's own JSON tools.
import protobuf from 'protobufjs';
import type { Root, Type } from 'protobufjs';
import agentProto from './agent.proto';
import ociProto from './oci.proto';
import typesProto from './types.proto';
import csiProto from './csi.proto';
import healthProto from './health.proto';
import grpcHealthV1Proto from './grpc_health_v1.proto';

export { decodeMessage, encodeMessage, messageFromJson, messageToJson } from './codec';

export const AGENT_SERVICE = 'grpc.AgentService';
export const HEALTH_SERVICE = 'grpc.Health';
export const GRPC_HEALTH_V1_SERVICE = 'grpc.health.v1.Health';

export interface MethodInfo {
  service: string;          // full name without the leading dot, e.g. 'grpc.AgentService'
  method: string;           // e.g. 'CreateContainer'
  requestType: Type;
  responseType: Type;
  requestStream: boolean;
  responseStream: boolean;
}

const SOURCES: ReadonlyArray<[file: string, text: string]> = [
  ['types.proto', typesProto],
  ['oci.proto', ociProto],
  ['csi.proto', csiProto],
  ['agent.proto', agentProto],
  ['health.proto', healthProto],
  ['grpc_health_v1.proto', grpcHealthV1Proto],
];

// google/protobuf/*.proto the files import; protobufjs ships their descriptors.
const WELL_KNOWN_IMPORTS = ['google/protobuf/empty.proto'];

let root: Root | undefined;
const methodCache = new Map<string, MethodInfo[]>();

export function schemaRoot(): Root {
  if (!root) root = buildRoot();
  return root;
}

function buildRoot(): Root {
  const built = new protobuf.Root();
  for (const name of WELL_KNOWN_IMPORTS) {
    const descriptor = protobuf.common.get(name);
    if (!descriptor?.nested) throw new Error(`load schema: protobufjs has no built-in ${name}`);
    built.addJSON(descriptor.nested);
  }
  for (const [file, text] of SOURCES) {
    try {
      protobuf.parse(text, built, { keepCase: true });
    } catch (err) {
      throw new Error(`load schema: parse ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  try {
    built.resolveAll();
  } catch (err) {
    throw new Error(`load schema: resolve types: ${err instanceof Error ? err.message : String(err)}`);
  }
  return built;
}

export function messageType(fullName: string): Type {
  const found = schemaRoot().lookup(fullName.replace(/^\./, ''));
  if (!(found instanceof protobuf.Type)) {
    throw new Error(`schema: no message type "${fullName}"${found ? ` (it is a ${found.constructor.name})` : ''}`);
  }
  return found;
}

/** Every method of a service; an empty list when the service does not exist. */
export function serviceMethods(service: string): MethodInfo[] {
  const name = service.replace(/^\./, '');
  let methods = methodCache.get(name);
  if (!methods) {
    const found = schemaRoot().lookup(name);
    if (!(found instanceof protobuf.Service)) return [];
    methods = found.methodsArray.map((m) => {
      m.resolve();
      if (!m.resolvedRequestType || !m.resolvedResponseType) {
        throw new Error(`schema: ${name}/${m.name} has unresolved types`);
      }
      return {
        service: name,
        method: m.name,
        requestType: m.resolvedRequestType,
        responseType: m.resolvedResponseType,
        requestStream: m.requestStream === true,
        responseStream: m.responseStream === true,
      };
    });
    methodCache.set(name, methods);
  }
  return methods;
}

export function findMethod(service: string, method: string): MethodInfo | undefined {
  return serviceMethods(service).find((m) => m.method === method);
}
