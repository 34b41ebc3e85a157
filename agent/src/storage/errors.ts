// Storage errors: each names the operation and the object, and carries the gRPC code that
// fits what went wrong (errno codes through ttrpc/status.ts's one table).
import { Code, codeForErrno, RpcError } from '../ttrpc/status';

// Short reasons for the errnos a mount commonly fails with, so the message explains itself.
const ERRNO_HINTS: Record<string, string> = {
  ENOENT: 'no such file, directory or device',
  ENODEV: 'no such device, or filesystem type not supported by the kernel',
  ENXIO: 'no such device or address',
  ENOTBLK: 'not a block device',
  EINVAL: 'invalid argument',
  EBUSY: 'busy',
  EPERM: 'operation not permitted',
  EACCES: 'permission denied',
  EROFS: 'read-only filesystem',
};

export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** "<operation>: ENODEV (no such device ...)" with the matching gRPC code. */
export function storageError(operation: string, err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  const errno = errnoOf(err);
  if (errno) {
    const hint = ERRNO_HINTS[errno];
    return new RpcError(codeForErrno(errno) ?? Code.INTERNAL, `${operation}: ${errno}${hint ? ` (${hint})` : ''}`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new RpcError(Code.INTERNAL, `${operation}: ${message}`);
}

export function invalidStorage(message: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, message);
}

export function cancelled(operation: string): RpcError {
  return new RpcError(Code.CANCELLED, `${operation}: cancelled`);
}

/**
 * A guest path outside the roots allowed for its use (confinement.ts): PERMISSION_DENIED, naming
 * the rule, the path as sent and as resolved, and the roots that would have been accepted.
 */
export function confinementDenied(operation: string, use: string, requested: string, resolved: string, roots: readonly string[]): RpcError {
  const where = requested === resolved ? `"${requested}"` : `"${requested}" (resolves to ${resolved})`;
  return new RpcError(
    Code.PERMISSION_DENIED,
    `${operation}: guest path confinement: ${use} ${where} is outside the roots allowed for it (${roots.join(', ')}); an image's policy can add roots with allow_guest_roots`,
  );
}

/** A guest path with a NUL byte in it: no path at all. */
export function nulInPath(operation: string, use: string, requested: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, `${operation}: ${use} ${JSON.stringify(requested)} holds a NUL byte`);
}

/** A guest path no system call takes (ENAMETOOLONG): refused before any lookup walks it. */
export function pathTooLong(operation: string, use: string, requested: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, `${operation}: ${use} of ${Buffer.byteLength(requested)} bytes is longer than a path may be (PATH_MAX, 4096 with its NUL): ${requested.slice(0, 64)}...`);
}

/** A local or ephemeral volume mode asking for the setuid bit, which no Kata runtime sends. */
export function modeDenied(operation: string, mode: string): RpcError {
  return new RpcError(Code.PERMISSION_DENIED, `${operation}: guest path confinement: directory mode ${mode} sets the setuid bit (Kata sends mode=0777, setgid comes from fsgid=)`);
}
