// CopyFile: the runtime copies files into the shared directory (when it has no shared fs for
// them), possibly in several chunks. A file is assembled in "<name>.tmp" beside its target and
// renamed into place when its last chunk arrives, so readers never see half a file.
//
// The shared directory holds the containers' rootfs, and a container can change its rootfs while
// we write into it (swap a directory on the way for a symlink to /etc, plant "<name>.tmp" as a
// symlink). So nothing here goes by path: the shared directory is opened once, each component
// below it is opened beneath the previous one's fd with openat2 (no symlink followed, no ".."
// escape), and every later call (create, write, chmod, chown, rename, unlink) acts on the parent
// directory's fd or on the file's own fd. What a swap can still do is make the call fail.
import { randomBytes } from 'node:crypto';
import { constants as fsc, fstatSync, openSync, write } from 'node:fs';
import path from 'node:path';
import { closeFd, fchmod, fchown, mkdirAt, openBeneath, renameAt, symlinkAt, unlinkAt } from '../native/beneath';
import { PATH_MAX, SHARED_CONTAINERS } from '../paths';
import type { CopyFileRequest } from '../proto/messages.generated';
import { Code, RpcError, statusFromError } from '../ttrpc/status';


/**
 * The largest file CopyFile assembles: 16 GiB. The shared directory is a host share (or guest
 * memory), and the runtime copies config files, secrets and, without a shared fs, volumes; a
 * larger size is more likely a bad request than a file, and a huge offset must not make a sparse
 * file of that size.
 */
export const MAX_COPY_FILE_SIZE = 16 * 2 ** 30;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const PERMISSION_BITS = 0o7777;
/** The largest uid or gid; 2^32-1 is the kernel's "no change" (-1). */
const MAX_ID = 2 ** 32 - 2;

function refuse(p: string, why: string): RpcError {
  return new RpcError(Code.PERMISSION_DENIED, `copy file ${p}: ${why}; only paths under ${SHARED_CONTAINERS}/ are allowed`);
}

function invalid(p: string, why: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, `copy file ${p}: ${why}`);
}

function precondition(p: string, why: string): RpcError {
  return new RpcError(Code.FAILED_PRECONDITION, `copy file ${p}: ${why}`);
}

/** The target, checked to lie strictly inside `root`. */
export function confinedPath(requested: string, root = SHARED_CONTAINERS): string {
  if (requested.includes('\0')) throw invalid(JSON.stringify(requested), 'the path holds a NUL byte');
  if (Buffer.byteLength(requested) >= PATH_MAX) throw invalid(`${requested.slice(0, 64)}...`, `the path is ${Buffer.byteLength(requested)} bytes, longer than a path may be (PATH_MAX 4096)`);
  if (!path.isAbsolute(requested)) throw refuse(requested, 'not an absolute path');
  if (requested.split('/').includes('..')) throw refuse(requested, 'the path contains ".."');
  const target = path.normalize(requested);
  if (!target.startsWith(`${root}/`) || path.relative(root, target) === '') throw refuse(requested, 'outside the shared directory');
  return target;
}

type Kind = 'file' | 'directory' | 'symlink';

interface CheckedRequest {
  kind: Kind;
  fileSize: number;
  offset: number;
  /** Permission bits of the target (type bits removed). */
  mode: number;
  /** Permission bits of directories created on the way. */
  dirMode: number;
  uid: number;
  gid: number;
}

/** An int64 field sent as a decimal string (how the wire decoder gives 64-bit integers). */
function int64Field(p: string, field: string, value: unknown): bigint {
  const text = typeof value === 'bigint' || typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^-?\d{1,19}$/.test(text)) throw invalid(p, `${field} ${JSON.stringify(value)} is not a 64-bit decimal integer`);
  return BigInt(text);
}

function idField(p: string, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -1 || value > MAX_ID) {
    throw invalid(p, `${field} ${String(value)} is out of range (-1 to leave it as it is, or 0 to ${MAX_ID})`);
  }
  return value;
}

/**
 * A mode field (uint32 on the wire): its permission bits, after checking its unix type bits are
 * one of `types`. Bits above the type are ignored, as the chmod of Kata's own agent ignores them:
 * runtime-go sends dir_mode as Go's os.FileMode, whose directory bit is 1<<31.
 */
function modeField(p: string, field: string, value: unknown, types: readonly number[]): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw invalid(p, `${field} ${String(value)} is not a mode (a 32-bit unsigned integer)`);
  }
  if (!types.includes(value & S_IFMT)) throw invalid(p, `${field} 0o${value.toString(8)} has a file type CopyFile does not create`);
  return value & PERMISSION_BITS;
}

/** Every check of the request's fields, before anything is written. */
function checkRequest(req: CopyFileRequest): CheckedRequest {
  const p = req.path;
  const fileMode = typeof req.file_mode === 'number' ? req.file_mode : Number.NaN;
  const kind: Kind = (fileMode & S_IFMT) === S_IFDIR ? 'directory' : (fileMode & S_IFMT) === S_IFLNK ? 'symlink' : 'file';
  const mode = modeField(p, 'file_mode', req.file_mode, [0, S_IFREG, S_IFDIR, S_IFLNK]);
  const dirMode = modeField(p, 'dir_mode', req.dir_mode, [0, S_IFDIR]) || 0o755;
  const uid = idField(p, 'uid', req.uid);
  const gid = idField(p, 'gid', req.gid);
  if (!(req.data instanceof Uint8Array)) throw invalid(p, 'data is not bytes');
  const fileSize = int64Field(p, 'file_size', req.file_size);
  const offset = int64Field(p, 'offset', req.offset);
  if (fileSize < 0n) throw invalid(p, `file_size ${fileSize} is negative`);
  if (fileSize > BigInt(MAX_COPY_FILE_SIZE)) throw invalid(p, `file_size ${fileSize} is over the ${MAX_COPY_FILE_SIZE}-byte (16 GiB) limit`);
  if (offset < 0n) throw invalid(p, `offset ${offset} is negative`);
  if (kind === 'file' && offset + BigInt(req.data.length) > fileSize) {
    throw invalid(p, `offset ${offset} + ${req.data.length} bytes of data is past file_size ${fileSize}`);
  }
  if (kind === 'symlink' && (req.data.length === 0 || req.data.includes(0))) throw invalid(p, 'data (the symlink target) is empty or holds a NUL byte');
  return { kind, fileSize: Number(fileSize), offset: Number(offset), mode, dirMode, uid, gid };
}

/** A failed fd call as a status that names what it was about; never UNKNOWN. */
function failure(err: unknown, p: string, what: string): RpcError {
  if (err instanceof RpcError) return err;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ELOOP':
      return refuse(p, `${what} is a symlink, and a symlink on the way escapes the shared directory`);
    case 'EXDEV':
      return refuse(p, `${what} escapes the shared directory`);
    case 'ENOTDIR':
      return precondition(p, `${what} is not a directory`);
  }
  const { code, message } = statusFromError(err, 'CopyFile');
  return new RpcError(code, `copy file ${p}: ${what}: ${(err as Error).message ?? message}`);
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Opens directory `name` beneath `dirfd`, creating it (owned and moded as asked) when missing. */
function openOrCreateDirectory(dirfd: number, name: string, req: CheckedRequest, p: string, shown: string): number {
  try {
    return openBeneath(dirfd, name, fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw failure(err, p, shown);
  }
  let created = true;
  try {
    mkdirAt(dirfd, name, req.dirMode);
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw failure(err, p, shown);
    created = false; // made by someone else meanwhile: open what is there, with the same checks
  }
  let fd: number;
  try {
    fd = openBeneath(dirfd, name, fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (err) {
    throw failure(err, p, shown);
  }
  try {
    if (created) setOwnerAndMode(fd, req.dirMode, req);
  } catch (err) {
    closeFd(fd);
    throw failure(err, p, shown);
  }
  return fd;
}

/** The parent directory of the target, each component opened beneath the one before. */
function openParent(rootFd: number, root: string, components: string[], req: CheckedRequest, p: string): number {
  let fd = rootFd;
  let shown = root;
  for (const name of components) {
    shown = `${shown}/${name}`;
    try {
      const next = openOrCreateDirectory(fd, name, req, p, shown);
      if (fd !== rootFd) closeFd(fd);
      fd = next;
    } catch (err) {
      if (fd !== rootFd) closeFd(fd);
      throw err;
    }
  }
  if (fd !== rootFd) return fd;
  try {
    return openBeneath(rootFd, '.', fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (err) {
    throw failure(err, p, root);
  }
}

/** Owner first: a chown clears set-user-ID and set-group-ID bits the chmod then sets. */
function setOwnerAndMode(fd: number, mode: number, req: CheckedRequest): void {
  if (req.uid !== -1 || req.gid !== -1) fchown(fd, req.uid, req.gid);
  fchmod(fd, mode);
}

function writeAll(fd: number, data: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done >= data.length) return resolve();
      write(fd, data, done, data.length - done, position + done, (err, n) => (err ? reject(err) : step(done + n)));
    };
    step(0);
  });
}

/** Writes one chunk into `<name>.tmp`; the last chunk moves it to `name`. */
async function copyChunk(parentFd: number, name: string, data: Uint8Array, req: CheckedRequest, p: string, dir: string): Promise<void> {
  const tmp = `${name}.tmp`;
  const shownTmp = `${dir}/${tmp}`;
  // O_NONBLOCK: a FIFO planted as the temp file must not hang the agent in open(); it is refused
  // below, as is anything that is not a plain file of our own.
  const flags = fsc.O_WRONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY;
  let fd: number;
  if (req.offset === 0) {
    // A fresh file: whatever is at the temp name (a leftover, or a planted symlink, which unlinkat
    // removes without following) goes, and O_EXCL makes sure we write only into what we create.
    try {
      unlinkAt(parentFd, tmp);
    } catch (err) {
      if (errnoOf(err) === 'EISDIR') throw precondition(p, `${shownTmp} is a directory`);
      if (errnoOf(err) !== 'ENOENT') throw failure(err, p, shownTmp);
    }
    try {
      fd = openBeneath(parentFd, tmp, flags | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    } catch (err) {
      throw failure(err, p, shownTmp);
    }
  } else {
    try {
      fd = openBeneath(parentFd, tmp, flags);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') throw precondition(p, `the chunk at offset ${req.offset} continues ${shownTmp}, which does not exist`);
      if (errnoOf(err) === 'ELOOP') throw refuse(p, `${shownTmp} is a symlink`);
      throw failure(err, p, shownTmp);
    }
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1) throw precondition(p, `${shownTmp} is not a plain file of its own (a link or special file was put there)`);
    if (st.size < req.offset) throw precondition(p, `${shownTmp} holds ${st.size} bytes; the chunk at offset ${req.offset} would leave a hole (an earlier chunk is missing)`);
    try {
      await writeAll(fd, data, req.offset);
      if (req.offset + data.length < req.fileSize) return;
      setOwnerAndMode(fd, req.mode, req);
    } catch (err) {
      throw failure(err, p, shownTmp);
    }
    try {
      renameAt(parentFd, tmp, name);
    } catch (err) {
      if (errnoOf(err) === 'EISDIR') throw precondition(p, 'exists and is a directory');
      throw failure(err, p, `rename ${shownTmp}`);
    }
  } catch (err) {
    removeQuietly(parentFd, tmp);
    throw err;
  } finally {
    closeFd(fd);
  }
}

function removeQuietly(dirfd: number, name: string): void {
  try {
    unlinkAt(dirfd, name);
  } catch {
    // already gone, or replaced by a directory: nothing of ours is left to remove
  }
}

function makeDirectory(parentFd: number, name: string, req: CheckedRequest, p: string): void {
  try {
    mkdirAt(parentFd, name, req.mode);
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw failure(err, p, p);
  }
  let fd: number;
  try {
    fd = openBeneath(parentFd, name, fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (err) {
    if (errnoOf(err) === 'ENOTDIR') throw precondition(p, 'exists and is not a directory');
    if (errnoOf(err) === 'ELOOP') throw refuse(p, 'the target is a symlink');
    throw failure(err, p, p);
  }
  try {
    setOwnerAndMode(fd, req.mode, req);
  } catch (err) {
    throw failure(err, p, p);
  } finally {
    closeFd(fd);
  }
}

/** The link is made under a fresh random name and renamed over the target, replacing it at once. */
function makeSymlink(parentFd: number, name: string, target: string, p: string): void {
  const tmp = `.${name}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    symlinkAt(target, parentFd, tmp);
  } catch (err) {
    throw failure(err, p, p);
  }
  try {
    renameAt(parentFd, tmp, name);
  } catch (err) {
    removeQuietly(parentFd, tmp);
    if (errnoOf(err) === 'EISDIR') throw precondition(p, 'exists and is a directory');
    throw failure(err, p, p);
  }
}

export async function copyFile(req: CopyFileRequest, root = SHARED_CONTAINERS): Promise<void> {
  const target = confinedPath(req.path, root);
  const checked = checkRequest(req);
  const components = path.relative(root, target).split('/');
  const name = components.pop()!;
  let rootFd: number;
  try {
    rootFd = openSync(root, fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (err) {
    throw failure(err, req.path, `the shared directory ${root}`);
  }
  try {
    const parentFd = openParent(rootFd, root, components, checked, req.path);
    const dir = path.dirname(target);
    try {
      if (checked.kind === 'directory') makeDirectory(parentFd, name, checked, req.path);
      else if (checked.kind === 'symlink') makeSymlink(parentFd, name, Buffer.from(req.data).toString(), req.path);
      else await copyChunk(parentFd, name, req.data, checked, req.path, dir);
    } finally {
      closeFd(parentFd);
    }
  } finally {
    closeFd(rootFd);
  }
}
