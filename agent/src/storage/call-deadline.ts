// Bounding storage work by the call's AbortSignal (ttRPC and gRPC abort it at the deadline, and
// when the client goes away): the error to give up with, and a wait that stops at the abort.
import { Code, RpcError } from '../ttrpc/status';
import { cancelled } from './errors';

export function deadlineExceeded(operation: string): RpcError {
  return new RpcError(Code.DEADLINE_EXCEEDED, `${operation}: not done by the call's deadline`);
}

/**
 * The error for `operation` given up because its call's signal fired with `reason`: the servers
 * abort with an RpcError (DEADLINE_EXCEEDED at the deadline, CANCELLED when the client goes);
 * AbortSignal.timeout() aborts with a TimeoutError.
 */
export function abortedBy(operation: string, reason: unknown): RpcError {
  const timedOut = reason instanceof RpcError ? reason.code === Code.DEADLINE_EXCEEDED : (reason as Error | undefined)?.name === 'TimeoutError';
  return timedOut ? deadlineExceeded(operation) : cancelled(operation);
}

/** `pending`, unless `signal` aborts first: then abortedBy(operation). `pending` itself goes on. */
export function untilAborted<T>(pending: Promise<T>, signal: AbortSignal | undefined, operation: string): Promise<T> {
  if (!signal) return pending;
  if (signal.aborted) return Promise.reject(abortedBy(operation, signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedBy(operation, signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
