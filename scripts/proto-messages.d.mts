export declare const MESSAGES_FILE: string;
/** The text of agent/src/proto/messages.generated.ts for the .proto files (or those of `root`). */
export declare function generateMessages(root?: import('protobufjs').Root): string;
