// The error a failed netlink request turns into: the operation, the errno name and its text,
// shaped like Node's system errors (`code` = 'EEXIST' ...) so statusFromError maps it.
import { getSystemErrorMap } from 'node:util';

export class NetlinkError extends Error {
  readonly code: string;
  readonly errno: number;

  constructor(operation: string, errno: number) {
    const [name, text] = getSystemErrorMap().get(-errno) ?? [`ERRNO_${errno}`, 'unknown error'];
    super(`${operation}: ${name} (${text})`);
    this.name = 'NetlinkError';
    this.code = name;
    this.errno = errno;
  }
}
