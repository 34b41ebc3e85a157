// gRPC status codes and the one error type that carries them across ttRPC.

export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

export class RpcError extends Error {
  readonly code: Code;

  constructor(code: Code, message: string) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
  }

  override toString(): string {
    return `${Code[this.code] ?? this.code}: ${this.message}`;
  }
}

// The one errno -> status table (errnos from Node and the native addon), for every layer.
const errnoToCode: Record<string, Code> = {
  ENOENT: Code.NOT_FOUND,
  ESRCH: Code.NOT_FOUND,
  ENXIO: Code.NOT_FOUND,
  ENODEV: Code.NOT_FOUND,
  EEXIST: Code.ALREADY_EXISTS,
  EACCES: Code.PERMISSION_DENIED,
  EPERM: Code.PERMISSION_DENIED,
  EINVAL: Code.INVALID_ARGUMENT,
  ENOTDIR: Code.INVALID_ARGUMENT,
  EISDIR: Code.INVALID_ARGUMENT,
  ENAMETOOLONG: Code.INVALID_ARGUMENT,
  ENOTBLK: Code.INVALID_ARGUMENT,
  // Netlink: an address or value the kernel will not take; a network that is not up.
  EADDRNOTAVAIL: Code.INVALID_ARGUMENT,
  ERANGE: Code.INVALID_ARGUMENT,
  ENETDOWN: Code.FAILED_PRECONDITION,
  ENETUNREACH: Code.FAILED_PRECONDITION,
  EHOSTUNREACH: Code.FAILED_PRECONDITION,
  // A symlink where a plain file or directory must be: refused, not followed.
  ELOOP: Code.FAILED_PRECONDITION,
  EROFS: Code.FAILED_PRECONDITION,
  ENOTEMPTY: Code.FAILED_PRECONDITION,
  EXDEV: Code.FAILED_PRECONDITION,
  ETIMEDOUT: Code.DEADLINE_EXCEEDED,
  EBUSY: Code.FAILED_PRECONDITION,
  ENOSPC: Code.RESOURCE_EXHAUSTED,
  ENOMEM: Code.RESOURCE_EXHAUSTED,
  EMFILE: Code.RESOURCE_EXHAUSTED,
  ENFILE: Code.RESOURCE_EXHAUSTED,
  EAGAIN: Code.UNAVAILABLE,
  ECONNREFUSED: Code.UNAVAILABLE,
  ECONNRESET: Code.UNAVAILABLE,
  EPIPE: Code.UNAVAILABLE,
  ENOSYS: Code.UNIMPLEMENTED,
  EOPNOTSUPP: Code.UNIMPLEMENTED,
};

// Node's own checks of the values it is given (a uid out of range, an unknown signal number):
// the request carried a bad value.
const NODE_ARGUMENT_ERRORS = new Set(['ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_UNKNOWN_SIGNAL', 'ERR_INVALID_URI']);

/** The status for an errno name (ENOENT -> NOT_FOUND), if the table has one. */
export function codeForErrno(errno: string): Code | undefined {
  return errnoToCode[errno];
}

/**
 * The one place where any thrown value becomes a wire status. Never UNKNOWN: an error nothing
 * mapped is the agent's own failure (INTERNAL); `where` (the method) then prefixes its message.
 */
export function statusFromError(err: unknown, where?: string): { code: Code; message: string } {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  const prefix = where ? `${where}: ` : '';
  if (err instanceof Error) {
    const errno = (err as NodeJS.ErrnoException).code;
    const code = (errno ? (errnoToCode[errno] ?? (NODE_ARGUMENT_ERRORS.has(errno) ? Code.INVALID_ARGUMENT : undefined)) : undefined) ?? Code.INTERNAL;
    return { code, message: err.message.startsWith(prefix) ? err.message : `${prefix}${err.message}` };
  }
  return { code: Code.INTERNAL, message: `${prefix}${String(err)}` };
}

export function codeName(code: number): string {
  return Code[code] ?? `CODE_${code}`;
}
