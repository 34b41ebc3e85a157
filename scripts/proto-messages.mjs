// Writes agent/src/proto/messages.generated.ts from the agent's .proto files: a TypeScript
// interface per message in the shape decodeMessage gives handlers (agent/src/proto/codec.ts), an
// "...Init" interface per message in the shape encodeMessage takes (what handlers return and the
// CLI builds), a type per enum, and per service a map from method name to its request and
// response types. Types only, besides MESSAGE_FIELDS (each message's field names, for tests).
// test/unit/schema-messages.test.ts fails when the file is out of date.
//   node scripts/proto-messages.mjs
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { parseRoot } from './proto-descriptor.mjs';

export const MESSAGES_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../agent/src/proto/messages.generated.ts');

// The agent's own packages (and Empty) keep their bare names; others take their package's name
// as a prefix: grpc.health.v1.HealthCheckResponse is GrpcHealthV1HealthCheckResponse.
const UNPREFIXED = new Set(['grpc', 'types', 'google.protobuf']);
const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const NUMBER = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);

const bare = (fullName) => fullName.replace(/^\./, '');
const pascal = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** The package of a type: the namespaces above it that are not themselves types. */
function packageOf(obj) {
  const parts = [];
  for (let ns = obj.parent; ns && ns.name; ns = ns.parent) {
    if (!(ns instanceof protobuf.Type)) parts.unshift(ns.name);
  }
  return parts.join('.');
}

function tsName(obj) {
  const pkg = packageOf(obj);
  const inPackage = bare(obj.fullName).slice(pkg ? pkg.length + 1 : 0).split('.').join('_');
  return UNPREFIXED.has(pkg) ? inPackage : pkg.split('.').map(pascal).join('') + inPackage;
}

function collect(ns, out) {
  for (const obj of ns.nestedArray) {
    if (obj instanceof protobuf.Type) out.messages.push(obj);
    else if (obj instanceof protobuf.Enum) out.enums.push(obj);
    else if (obj instanceof protobuf.Service) out.services.push(obj);
    if (obj instanceof protobuf.Namespace) collect(obj, out);
  }
}

const prop = (name) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : `'${name}'`);

/** One value of `field` as decodeMessage gives it (`init`: as encodeMessage takes it). */
function valueType(field, names, init) {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) return names.get(t) + (init ? 'Init' : '');
  // An enum value the enum does not define stays a number.
  if (t instanceof protobuf.Enum) return `${names.get(t)} | number`;
  if (field.type === 'string') return 'string';
  if (field.type === 'bool') return 'boolean';
  if (field.type === 'bytes') return init ? 'Uint8Array' : 'Buffer';
  if (INT64.has(field.type)) return init ? 'string | number | bigint' : 'string';
  if (NUMBER.has(field.type)) return 'number';
  throw new Error(`${bare(field.fullName)}: no TypeScript type for ${field.type}`);
}

const list = (type, init) => (type.includes(' ') ? `(${type})` : type) + '[]';

/**
 * The decoded shape (codec.ts readMessage/handlerDefaults): scalars and bytes at their zero
 * value when absent, lists and maps empty, sub-messages null, proto3 optional and oneof scalars
 * only when set.
 */
function decodedField(field, names) {
  const value = valueType(field, names, false);
  if (field instanceof protobuf.MapField) return `${prop(field.name)}: Record<string, ${value}>;`;
  if (field.repeated) return `${prop(field.name)}: ${list(value)};`;
  if (field.resolvedType instanceof protobuf.Type) return `${prop(field.name)}: ${value} | null;`;
  if (field.partOf) return `${prop(field.name)}?: ${value};`;
  return `${prop(field.name)}: ${value};`;
}

/** What encodeMessage takes: any field may be left out (or null); lists and maps read only. */
function initField(field, names) {
  const value = valueType(field, names, true);
  if (field instanceof protobuf.MapField) return `${prop(field.name)}?: Readonly<Record<string, ${value}>> | null;`;
  if (field.repeated) return `${prop(field.name)}?: readonly ${list(value)} | null;`;
  return `${prop(field.name)}?: ${value} | null;`;
}

function messageBlock(type, names) {
  const name = names.get(type);
  const body = (fieldText) => (type.fieldsArray.length === 0 ? ' {}' : ` {\n${type.fieldsArray.map((f) => `  ${fieldText(f, names)}`).join('\n')}\n}`);
  // An Init without fields would take any object at all: an empty one is Record<string, never>.
  const initBody = type.fieldsArray.length === 0 ? 'type %s = Record<string, never>;' : `interface %s${body(initField)}`;
  return [
    `/** ${bare(type.fullName)} as decodeMessage gives it. */`,
    `export interface ${name}${body(decodedField)}`,
    `/** ${bare(type.fullName)} as encodeMessage takes it. */`,
    `export ${initBody.replace('%s', `${name}Init`)}`,
  ].join('\n');
}

function enumBlock(en, names) {
  const values = [...new Set(Object.keys(en.values))].map((v) => `'${v}'`).join(' | ');
  return `/** ${bare(en.fullName)}: the names of its values (a field also holds a number the enum does not define). */\nexport type ${names.get(en)} = ${values};`;
}

function serviceBlock(service, names) {
  const name = `${tsName(service)}Methods`;
  const rows = service.methodsArray.map((m) => {
    m.resolve();
    const streams = m.requestStream || m.responseStream ? `; stream: '${[m.requestStream ? 'client' : '', m.responseStream ? 'server' : ''].filter(Boolean).join('+')}'` : '';
    const [req, res] = [names.get(m.resolvedRequestType), names.get(m.resolvedResponseType)];
    return `  ${m.name}: { request: ${req}; requestInit: ${req}Init; response: ${res}; responseInit: ${res}Init${streams} };`;
  });
  return { name, full: bare(service.fullName), text: `/** ${bare(service.fullName)}: each method's request and response, decoded and as encodeMessage takes them. */\nexport interface ${name} {\n${rows.join('\n')}\n}` };
}

export function generateMessages(root = parseRoot()) {
  const out = { messages: [], enums: [], services: [] };
  collect(root, out);
  const names = new Map();
  const taken = new Map();
  for (const obj of [...out.messages, ...out.enums]) {
    const name = tsName(obj);
    if (taken.has(name)) throw new Error(`${bare(obj.fullName)} and ${taken.get(name)} would both be ${name}`);
    taken.set(name, bare(obj.fullName));
    names.set(obj, name);
  }
  const services = out.services.map((s) => serviceBlock(s, names));
  const fieldRows = out.messages.map((m) => `  '${bare(m.fullName)}': [${m.fieldsArray.map((f) => `'${f.name}${!f.repeated && !(f.resolvedType instanceof protobuf.Type) && f.partOf ? '?' : ''}'`).join(', ')}],`);
  return [
    '// Generated by scripts/proto-messages.mjs from the .proto files of this folder: do not edit.',
    '// Field names are the proto names; see codec.ts for the shapes.',
    '',
    ...out.enums.map((e) => enumBlock(e, names)),
    '',
    ...out.messages.map((m) => messageBlock(m, names)),
    '',
    '/** Message full name -> its decoded interface. */',
    'export interface MessagesByName {',
    ...out.messages.map((m) => `  '${bare(m.fullName)}': ${names.get(m)};`),
    '}',
    '',
    '/** Message full name -> its interface as encodeMessage takes it. */',
    'export interface MessageInitsByName {',
    ...out.messages.map((m) => `  '${bare(m.fullName)}': ${names.get(m)}Init;`),
    '}',
    '',
    ...services.map((s) => s.text),
    '',
    '/** Service full name -> its methods. */',
    'export interface ServicesByName {',
    ...services.map((s) => `  '${s.full}': ${s.name};`),
    '}',
    '',
    '/** Message full name -> its field names; a name ending in "?" is present only when set. */',
    'export const MESSAGE_FIELDS = {',
    ...fieldRows,
    '} as const;',
    '',
  ].join('\n');
}

// Run as a command; not when bundled into another program, whose argv[1] is itself.
if (process.argv[1] === fileURLToPath(import.meta.url) && path.basename(process.argv[1]) === 'proto-messages.mjs') {
  writeFileSync(MESSAGES_FILE, generateMessages());
  console.log(`wrote ${path.relative(process.cwd(), MESSAGES_FILE)}`);
}
