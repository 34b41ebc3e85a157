// How network failures reach the caller: validation errors as RpcErrors named after the bad
// field; kernel refusals with the step that failed and what had already been applied.
import { Code, RpcError, statusFromError } from '../ttrpc/status';

export const invalid = (message: string): RpcError => new RpcError(Code.INVALID_ARGUMENT, message);
export const notFound = (message: string): RpcError => new RpcError(Code.NOT_FOUND, message);

export function codeOf(err: unknown): Code {
  return statusFromError(err).code;
}

/** `step` failed after `applied` had been done: say both, so nobody has to guess the state. */
export function partiallyApplied(operation: string, err: unknown, applied: string[]): RpcError {
  const what = err instanceof Error ? err.message : String(err);
  const done = applied.length ? `already applied: ${applied.join('; ')}` : 'nothing was changed';
  return new RpcError(codeOf(err), `${operation}: ${what} (${done})`);
}
