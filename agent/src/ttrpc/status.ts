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

// errno codes from Node and the native addon, for errors that are not RpcErrors.
const errnoToCode: Record<string, Code> = {
  ENOENT: Code.NOT_FOUND,
  ESRCH: Code.NOT_FOUND,
  EEXIST: Code.ALREADY_EXISTS,
  EACCES: Code.PERMISSION_DENIED,
  EPERM: Code.PERMISSION_DENIED,
  EINVAL: Code.INVALID_ARGUMENT,
  ENOTDIR: Code.INVALID_ARGUMENT,
  EISDIR: Code.INVALID_ARGUMENT,
  ETIMEDOUT: Code.DEADLINE_EXCEEDED,
  EBUSY: Code.FAILED_PRECONDITION,
  ENOSPC: Code.RESOURCE_EXHAUSTED,
  ENOMEM: Code.RESOURCE_EXHAUSTED,
  ENOSYS: Code.UNIMPLEMENTED,
  EOPNOTSUPP: Code.UNIMPLEMENTED,
};

// The one place where any thrown value becomes a wire status.
export function statusFromError(err: unknown): { code: Code; message: string } {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  if (err instanceof Error) {
    const errno = (err as NodeJS.ErrnoException).code;
    const code = (errno ? errnoToCode[errno] : undefined) ?? Code.UNKNOWN;
    return { code, message: err.message };
  }
  return { code: Code.UNKNOWN, message: String(err) };
}

export function codeName(code: number): string {
  return Code[code] ?? `CODE_${code}`;
}
