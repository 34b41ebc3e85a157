export declare const DESCRIPTOR_FILE: string;
/** The text of agent/src/proto/descriptor.generated.ts for the current .proto files. */
export declare function generateDescriptor(): string;
/** The .proto files (of agent/src/proto, or `protoDir`) parsed and resolved by protobufjs. */
export declare function parseRoot(protoDir?: string): import('protobufjs').Root;
