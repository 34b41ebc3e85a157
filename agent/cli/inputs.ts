// Reading what commands take from files or standard input: JSON requests, rule files, data.
import { readFileSync } from 'node:fs';
import { UsageError } from './command';

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** FILE or "-" (standard input), as bytes. */
export async function readSource(source: string, stdin: NodeJS.ReadableStream): Promise<Buffer> {
  if (source === '-') return readAll(stdin);
  try {
    return readFileSync(source);
  } catch (err) {
    throw new UsageError(`read ${source}: ${(err as Error).message}`);
  }
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`bad JSON ${what}: ${(err as Error).message}`);
  }
}

/** Inline JSON, @FILE, or "-" (standard input); absent means {}. */
export async function readJsonArg(arg: string | undefined, stdin: NodeJS.ReadableStream, what = 'request'): Promise<unknown> {
  if (arg === undefined) return {};
  const text = arg === '-' ? (await readAll(stdin)).toString('utf8') : arg.startsWith('@') ? (await readSource(arg.slice(1), stdin)).toString('utf8') : arg;
  return parseJson(text, what);
}

/** A JSON file (or "-"); the value must be an object. */
export async function readJsonFile(source: string, stdin: NodeJS.ReadableStream, what: string): Promise<Record<string, unknown> | unknown[]> {
  const value = parseJson((await readSource(source, stdin)).toString('utf8'), `${what} in ${source === '-' ? 'standard input' : source}`);
  if (typeof value !== 'object' || value === null) throw new UsageError(`${what} in ${source}: expected a JSON object or array`);
  return value as Record<string, unknown> | unknown[];
}
