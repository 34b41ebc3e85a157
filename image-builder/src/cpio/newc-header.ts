// The "newc" (SVR4, no CRC) cpio header the kernel's initramfs unpacker reads:
// magic "070701" then 13 fields of 8 ASCII hex digits = 110 bytes; the name (with its NUL)
// and the file data are each padded so the next item starts on a 4-byte boundary.

export const NEWC_MAGIC = '070701';
export const NEWC_HEADER_BYTES = 110;
export const NEWC_TRAILER_NAME = 'TRAILER!!!';

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export interface NewcHeaderFields {
  ino: number;
  mode: number; // file type bits | permission bits
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  fileSize: number;
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
  name: string;
}

/** Header + NUL-terminated name + padding to 4 bytes. */
export function encodeNewcHeader(fields: NewcHeaderFields): Buffer {
  const name = Buffer.from(fields.name, 'utf8');
  const nameSize = name.length + 1;
  const numbers = [
    fields.ino, fields.mode, fields.uid, fields.gid, fields.nlink, fields.mtime, fields.fileSize,
    fields.devMajor, fields.devMinor, fields.rdevMajor, fields.rdevMinor, nameSize, 0 /* check */,
  ];
  let text = NEWC_MAGIC;
  for (const n of numbers) {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new Error(`cpio header for ${fields.name}: field value ${n} does not fit 32 bits`);
    }
    text += n.toString(16).padStart(8, '0');
  }
  const total = NEWC_HEADER_BYTES + nameSize;
  const out = Buffer.alloc(total + paddingTo4(total));
  out.write(text, 0, 'ascii');
  name.copy(out, NEWC_HEADER_BYTES);
  return out;
}

export function paddingTo4(length: number): number {
  return (4 - (length % 4)) % 4;
}
