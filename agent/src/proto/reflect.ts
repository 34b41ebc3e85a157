// The agent's schema at run time: message, enum and service descriptions read from the table
// that scripts/proto-descriptor.mjs generates from our .proto files (descriptor.generated.ts).
//
// The table is text: a message is one string of fields, each "name number type [label]", joined
// by ","; `type` is a scalar type name or the full name of a message or enum; `label` is "rep"
// (repeated), "opt" (proto3 optional), "oneof:NAME" or "map:KEY_TYPE". An enum is "NAME number"
// pairs; a service is "Method RequestType ResponseType [client-stream] [server-stream]" rows.
//
// Why not protobufjs at run time: its reflection objects and generated functions were an eighth
// of everything the agent's start loads from its snapshot (bench/agent-start-instructions.ts).
// Here a type is built from its row the first time it is used, so the snapshot holds a few
// strings and only the types the start-up warm-up touched.
import { ENUMS, MESSAGES, SERVICES } from './descriptor.generated';

export type ScalarType =
  | 'double' | 'float' | 'int32' | 'int64' | 'uint32' | 'uint64' | 'sint32' | 'sint64'
  | 'fixed32' | 'fixed64' | 'sfixed32' | 'sfixed64' | 'bool' | 'string' | 'bytes';

/** A row of the table; names come from the wire too, so "__proto__" and the like find nothing. */
function row(table: Readonly<Record<string, string>>, name: string): string | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const FIXED32 = 5;

/** The wire type of each scalar type (enums are varints). */
export const SCALAR_WIRE: Readonly<Record<ScalarType, number>> = {
  int32: VARINT, int64: VARINT, uint32: VARINT, uint64: VARINT, sint32: VARINT, sint64: VARINT, bool: VARINT,
  fixed64: FIXED64, sfixed64: FIXED64, double: FIXED64,
  fixed32: FIXED32, sfixed32: FIXED32, float: FIXED32,
  string: LEN, bytes: LEN,
};

/** 64-bit integer types: decimal strings in objects, so values up to 2^64-1 stay exact. */
export const INT64_TYPES: ReadonlySet<string> = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

export class EnumType {
  readonly name: string;
  readonly values: Readonly<Record<string, number>>;
  private readonly names = new Map<number, string>();

  constructor(readonly fullName: string, valueRow: string) {
    this.name = fullName.slice(fullName.lastIndexOf('.') + 1);
    const values: Record<string, number> = {};
    for (const pair of valueRow.split(',')) {
      const [name, num] = pair.split(' ') as [string, string];
      values[name] = Number(num);
      if (!this.names.has(Number(num))) this.names.set(Number(num), name);
    }
    this.values = values;
  }

  /** The value's name; undefined for a number the enum does not define (kept as a number). */
  nameOf(value: number): string | undefined {
    return this.names.get(value);
  }

  /** The name of the zero value: the default of an enum field. */
  get zeroName(): string {
    return this.names.get(0) ?? Object.keys(this.values)[0]!;
  }
}

export class Field {
  readonly id: number;
  /** A scalar type name or the full name of the message or enum type. */
  readonly type: string;
  readonly kind: 'scalar' | 'enum' | 'message';
  /** Repeated, not a map. */
  readonly repeated: boolean;
  /** The key type of a map field. */
  readonly keyType: ScalarType | undefined;
  /** The oneof the field belongs to; a proto3 optional field is alone in "_<name>". */
  readonly oneof: string | undefined;
  /** Whether the field is written when zero: messages, optional fields and oneof members. */
  readonly tracksPresence: boolean;
  /** Repeated numbers and enums are written packed (proto3's default). */
  readonly packed: boolean;
  /** The wire type of one value. */
  readonly wire: number;

  constructor(readonly name: string, id: string, type: string, label: string | undefined, owner: string) {
    this.id = Number(id);
    this.type = type;
    if (Object.hasOwn(SCALAR_WIRE, type)) this.kind = 'scalar';
    else if (row(MESSAGES, type) !== undefined) this.kind = 'message';
    else if (row(ENUMS, type) !== undefined) this.kind = 'enum';
    else throw new Error(`schema: ${owner}.${name} has unknown type ${type}`);
    this.repeated = label === 'rep';
    this.keyType = label?.startsWith('map:') ? (label.slice(4) as ScalarType) : undefined;
    this.oneof = label === 'opt' ? `_${name}` : label?.startsWith('oneof:') ? label.slice(6) : undefined;
    this.tracksPresence = this.kind === 'message' || this.oneof !== undefined;
    this.packed = this.repeated && this.kind !== 'message' && type !== 'string' && type !== 'bytes';
    this.wire = this.kind === 'message' ? LEN : this.kind === 'enum' ? VARINT : SCALAR_WIRE[type as ScalarType];
  }

  get map(): boolean {
    return this.keyType !== undefined;
  }

  // Resolved on first use: a type's fields may name types not built yet (or itself).
  private resolvedMessage: MessageType | undefined;
  private resolvedEnum: EnumType | undefined;

  /** The message type of a message field (of a map's values, for a map). */
  get message(): MessageType | undefined {
    if (this.kind !== 'message') return undefined;
    return (this.resolvedMessage ??= messageType(this.type));
  }

  get enum(): EnumType | undefined {
    if (this.kind !== 'enum') return undefined;
    return (this.resolvedEnum ??= enumType(this.type));
  }
}

export class MessageType {
  readonly name: string;
  /** Fields in the order of the .proto file. */
  readonly fieldsArray: readonly Field[];
  /** Fields in number order: the order they are written in. */
  readonly writeOrder: readonly Field[];
  readonly fields: Readonly<Record<string, Field>>;
  readonly oneofs: ReadonlySet<string>;
  private readonly byId = new Map<number, Field>();

  constructor(readonly fullName: string, fieldRow: string) {
    this.name = fullName.slice(fullName.lastIndexOf('.') + 1);
    const fields: Field[] = [];
    const byName: Record<string, Field> = Object.create(null);
    const oneofs = new Set<string>();
    for (const spec of fieldRow ? fieldRow.split(',') : []) {
      const [name, id, type, label] = spec.split(' ') as [string, string, string, string | undefined];
      const field = new Field(name, id, type, label, fullName);
      fields.push(field);
      byName[name] = field;
      this.byId.set(field.id, field);
      if (field.oneof !== undefined) oneofs.add(field.oneof);
    }
    this.fieldsArray = fields;
    this.writeOrder = [...fields].sort((a, b) => a.id - b.id);
    this.fields = byName;
    this.oneofs = oneofs;
  }

  fieldById(id: number): Field | undefined {
    return this.byId.get(id);
  }
}

export interface MethodInfo {
  service: string;          // full name without the leading dot, e.g. 'grpc.AgentService'
  method: string;           // e.g. 'CreateContainer'
  readonly requestType: MessageType;
  readonly responseType: MessageType;
  requestStream: boolean;
  responseStream: boolean;
}

/** A method's types are built when first used: registering all 42 methods builds none. */
class Method implements MethodInfo {
  constructor(
    readonly service: string,
    readonly method: string,
    private readonly requestName: string,
    private readonly responseName: string,
    readonly requestStream: boolean,
    readonly responseStream: boolean,
  ) {}

  get requestType(): MessageType {
    return messageType(this.requestName);
  }

  get responseType(): MessageType {
    return messageType(this.responseName);
  }
}

const messages = new Map<string, MessageType>();
const enums = new Map<string, EnumType>();
const services = new Map<string, MethodInfo[]>();

export function messageType(fullName: string): MessageType {
  const name = fullName.startsWith('.') ? fullName.slice(1) : fullName;
  let type = messages.get(name);
  if (!type) {
    const fields = row(MESSAGES, name);
    if (fields === undefined) {
      const what = row(SERVICES, name) !== undefined ? ' (it is a Service)' : row(ENUMS, name) !== undefined ? ' (it is an Enum)' : '';
      throw new Error(`schema: no message type "${fullName}"${what}`);
    }
    type = new MessageType(name, fields);
    messages.set(name, type);
  }
  return type;
}

export function enumType(fullName: string): EnumType {
  const name = fullName.startsWith('.') ? fullName.slice(1) : fullName;
  let type = enums.get(name);
  if (!type) {
    const values = row(ENUMS, name);
    if (values === undefined) throw new Error(`schema: no enum "${fullName}"`);
    type = new EnumType(name, values);
    enums.set(name, type);
  }
  return type;
}

/** Every method of a service; an empty list when the service does not exist. */
export function serviceMethods(service: string): MethodInfo[] {
  const name = service.startsWith('.') ? service.slice(1) : service;
  let methods = services.get(name);
  if (!methods) {
    const rows = row(SERVICES, name);
    if (rows === undefined) return [];
    methods = rows.split(',').map((spec) => {
      const [method, request, response, ...streams] = spec.split(' ') as [string, string, string, ...string[]];
      return new Method(name, method, request, response, streams.includes('client-stream'), streams.includes('server-stream'));
    });
    services.set(name, methods);
  }
  return methods;
}
