// A FUSE filesystem served from the test's own event loop that can stop answering: the way to
// make mount(2) or stat(2) hang for real without a VM (a virtio-fs or 9p server that stalls
// does the same to the guest). Its root holds one symlink, x -> y, and one directory, y.
//
// Why a symlink: the kernel reads a FUSE symlink (FUSE_READLINK) at every path walk through it,
// unless the server opts into caching it. So the first walk (storage code's stat of a bind
// source) is answered, and a later one (the mount(2) itself) can be held for as long as the
// test likes: `holdReadlinksAfter(1)`. `release()` answers what is held; `close()` aborts the
// connection, so every held request fails with ENOTCONN, as when a share's server goes away.
//
// Linux's FUSE protocol (include/uapi/linux/fuse.h), only the little of it that is needed.
import { closeSync, constants, openSync } from 'node:fs';
import { FdWatch, mountSync, native } from '../../agent/src/native';

const FUSE_LOOKUP = 1;
const FUSE_FORGET = 2;
const FUSE_GETATTR = 3;
const FUSE_READLINK = 5;
const FUSE_INIT = 26;
const FUSE_INTERRUPT = 36;
const FUSE_BATCH_FORGET = 42;
const NO_REPLY = new Set([FUSE_FORGET, FUSE_INTERRUPT, FUSE_BATCH_FORGET]);

const IN_HEADER = 40; // len u32, opcode u32, unique u64, nodeid u64, uid, gid, pid u32, extlen u16, pad u16
const ENOENT = 2;
const ENOSYS = 38;

const ROOT = 1n;
const LINK = 2n; // "x"
const DIR = 3n; // "y"
const MODES: Record<string, number> = { [`${ROOT}`]: 0o40755, [`${LINK}`]: 0o120777, [`${DIR}`]: 0o40755 };

export interface FuseRequest {
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  /** The thread (its tid) whose syscall sent this request. */
  pid: number;
  name?: string;
}

export class StallingFuse {
  /** Every request seen, in order. */
  readonly requests: FuseRequest[] = [];
  readonly #held: FuseRequest[] = [];
  #readlinksAnswered = 0;
  #answerReadlinks = Infinity;
  #waiters: Array<() => void> = [];
  #watch: FdWatch | undefined;
  #fd: number | undefined;

  private constructor(
    readonly mountPoint: string,
    fd: number,
  ) {
    this.#fd = fd;
    this.#watch = new FdWatch(fd, () => this.#drain(), () => this.close());
    this.#watch.watch({ readable: true });
  }

  /** Mounts the filesystem at `mountPoint` (mount(2) of FUSE returns at once: FUSE_INIT comes later). */
  static mount(mountPoint: string): StallingFuse {
    const fd = openSync('/dev/fuse', constants.O_RDWR | constants.O_NONBLOCK);
    try {
      mountSync('stalling', mountPoint, 'fuse.stalling', 0, `fd=${fd},rootmode=40000,user_id=0,group_id=0`);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new StallingFuse(mountPoint, fd);
  }

  /** Answers the first `n` FUSE_READLINKs from now on and holds the later ones. */
  holdReadlinksAfter(n: number): void {
    this.#answerReadlinks = this.#readlinksAnswered + n;
  }

  /** Requests held unanswered right now. */
  get held(): readonly FuseRequest[] {
    return this.#held;
  }

  /** Resolves once `predicate` holds, re-checked at every request (no polling, no sleeps). */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (predicate()) resolve();
        else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }

  /** Answers whatever is held and stops holding. */
  release(): void {
    this.#answerReadlinks = Infinity;
    for (const req of this.#held.splice(0)) this.#answer(req);
  }

  /** Closes the device: the kernel aborts the connection and every waiting request fails. */
  close(): void {
    this.#watch?.close();
    this.#watch = undefined;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    this.#held.length = 0;
  }

  #drain(): void {
    while (this.#fd !== undefined) {
      const buf = native().readFd(this.#fd, 64 * 1024);
      if (!buf) return; // would block (undefined) or the connection ended (null)
      const req: FuseRequest = {
        opcode: buf.readUInt32LE(4),
        unique: buf.readBigUInt64LE(8),
        nodeid: buf.readBigUInt64LE(16),
        pid: buf.readUInt32LE(32),
      };
      if (req.opcode === FUSE_LOOKUP) req.name = buf.subarray(IN_HEADER, buf.indexOf(0, IN_HEADER)).toString();
      this.requests.push(req);
      if (req.opcode === FUSE_READLINK && this.#readlinksAnswered >= this.#answerReadlinks) this.#held.push(req);
      else if (!NO_REPLY.has(req.opcode)) this.#answer(req);
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  #answer(req: FuseRequest): void {
    switch (req.opcode) {
      case FUSE_INIT: {
        const out = Buffer.alloc(64);
        out.writeUInt32LE(7, 0); // major
        out.writeUInt32LE(31, 4); // minor; flags 0: no FUSE_CACHE_SYMLINKS
        out.writeUInt32LE(4096, 20); // max_write
        out.writeUInt32LE(1, 24); // time_gran
        return this.#reply(req, 0, out);
      }
      case FUSE_LOOKUP: {
        const node = req.nodeid === ROOT ? { x: LINK, y: DIR }[req.name ?? ''] : undefined;
        if (node === undefined) return this.#reply(req, -ENOENT);
        const out = Buffer.alloc(128);
        out.writeBigUInt64LE(node, 0); // nodeid
        out.writeBigUInt64LE(3600n, 16); // entry_valid (s)
        out.writeBigUInt64LE(3600n, 24); // attr_valid (s)
        writeAttr(out, 40, node);
        return this.#reply(req, 0, out);
      }
      case FUSE_GETATTR: {
        if (MODES[`${req.nodeid}`] === undefined) return this.#reply(req, -ENOENT);
        const out = Buffer.alloc(104);
        out.writeBigUInt64LE(3600n, 0); // attr_valid (s)
        writeAttr(out, 16, req.nodeid);
        return this.#reply(req, 0, out);
      }
      case FUSE_READLINK:
        this.#readlinksAnswered++;
        return this.#reply(req, 0, Buffer.from('y'));
      default:
        return this.#reply(req, -ENOSYS);
    }
  }

  #reply(req: FuseRequest, error: number, body: Buffer = Buffer.alloc(0)): void {
    if (this.#fd === undefined) return;
    const out = Buffer.alloc(16 + body.length);
    out.writeUInt32LE(out.length, 0);
    out.writeInt32LE(error, 4);
    out.writeBigUInt64LE(req.unique, 8);
    body.copy(out, 16);
    try {
      native().writeFd(this.#fd, out, 0);
    } catch {
      // ENOENT: the kernel gave up on that request (interrupted); nothing to do.
    }
  }
}

// struct fuse_attr at `at`: ino, size, blocks, times, then mode, nlink, uid, gid, rdev, blksize.
function writeAttr(out: Buffer, at: number, node: bigint): void {
  out.writeBigUInt64LE(node, at); // ino
  out.writeBigUInt64LE(node === LINK ? 1n : 0n, at + 8); // size ("y")
  out.writeUInt32LE(MODES[`${node}`]!, at + 60);
  out.writeUInt32LE(node === LINK ? 1 : 2, at + 64); // nlink
  out.writeUInt32LE(4096, at + 80); // blksize
}
