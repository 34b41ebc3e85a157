import { createReadStream } from 'node:fs';
import {
  S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, NEWC_TRAILER_NAME, encodeNewcHeader, paddingTo4,
} from './newc-header';

export type ChunkSink = (chunk: Buffer) => Promise<void>;

/** One archive member. Owners are always root: the guest must not depend on the builder's uid. */
export type CpioMember =
  | { kind: 'dir'; name: string; mode: number }
  | { kind: 'symlink'; name: string; mode: number; target: string }
  | { kind: 'file'; name: string; mode: number; size: number; hostPath: string; hardLink?: HardLink }
  | { kind: 'chardev'; name: string; mode: number; major: number; minor: number };

/** Marks one name of a file that has several in the archive (see `groupHardLinks`). */
export interface HardLink {
  /** The same for every name of the file, e.g. its first name. */
  group: string;
  /** How many names the file has in this archive: the header's nlink. */
  names: number;
}

/**
 * Streams a newc archive. Inode numbers follow insertion order and every member gets the same
 * mtime, so the bytes depend only on the members given (in the order given).
 * The names of a hard-linked file share one inode number and nlink; as GNU cpio writes them and
 * the kernel's unpacker expects, only the last name carries the data (the others have size 0):
 * the first name creates the file, each later one links to it, the last fills it.
 */
export class NewcArchiveWriter {
  private nextInode: number;
  private readonly linkGroups = new Map<string, { ino: number; seen: number; names: number }>();
  private finished = false;

  constructor(private readonly sink: ChunkSink, private readonly mtime: number, firstInode = 1) {
    this.nextInode = firstInode;
  }

  async add(member: CpioMember): Promise<void> {
    if (this.finished) throw new Error(`cpio add ${member.name}: archive already finished`);
    if (member.name === '' || member.name.startsWith('/')) {
      throw new Error(`cpio add ${JSON.stringify(member.name)}: names must be relative`);
    }
    const base = {
      ino: this.inodeOf(member), uid: 0, gid: 0, mtime: this.mtime,
      devMajor: 0, devMinor: 0, rdevMajor: 0, rdevMinor: 0, name: member.name,
    };
    const perms = member.mode & 0o7777;
    switch (member.kind) {
      case 'dir':
        await this.sink(encodeNewcHeader({ ...base, mode: S_IFDIR | perms, nlink: 2, fileSize: 0 }));
        return;
      case 'chardev':
        await this.sink(encodeNewcHeader({
          ...base, mode: S_IFCHR | perms, nlink: 1, fileSize: 0, rdevMajor: member.major, rdevMinor: member.minor,
        }));
        return;
      case 'symlink': {
        const target = Buffer.from(member.target, 'utf8');
        await this.sink(encodeNewcHeader({ ...base, mode: S_IFLNK | 0o777, nlink: 1, fileSize: target.length }));
        await this.sink(withPadding(target));
        return;
      }
      case 'file': {
        const link = member.hardLink;
        const carriesData = !link || this.linkGroups.get(link.group)!.seen === link.names;
        await this.sink(encodeNewcHeader({
          ...base, mode: S_IFREG | perms, nlink: link?.names ?? 1, fileSize: carriesData ? member.size : 0,
        }));
        if (carriesData) await this.copyFileData(member.name, member.hostPath, member.size);
        return;
      }
    }
  }

  /** A new inode number, or the group's for a further name of a hard-linked file. */
  private inodeOf(member: CpioMember): number {
    if (member.kind !== 'file' || !member.hardLink) return this.nextInode++;
    const { group, names } = member.hardLink;
    let entry = this.linkGroups.get(group);
    if (!entry) this.linkGroups.set(group, (entry = { ino: this.nextInode++, seen: 0, names }));
    if (++entry.seen > names) throw new Error(`cpio add ${member.name}: hard link group ${group} has more than its ${names} names`);
    return entry.ino;
  }

  /** Writes the TRAILER!!! member that ends the archive. */
  async finish(): Promise<void> {
    for (const [group, { seen, names }] of this.linkGroups) {
      if (seen !== names) throw new Error(`cpio finish: hard link group ${group} got ${seen} of its ${names} names, its data is missing`);
    }
    await this.sink(encodeNewcHeader({
      ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, fileSize: 0,
      devMajor: 0, devMinor: 0, rdevMajor: 0, rdevMinor: 0, name: NEWC_TRAILER_NAME,
    }));
    this.finished = true;
  }

  private async copyFileData(name: string, hostPath: string, size: number): Promise<void> {
    let copied = 0;
    try {
      for await (const chunk of createReadStream(hostPath)) {
        const buffer = chunk as Buffer;
        copied += buffer.length;
        if (copied > size) break;
        await this.sink(buffer);
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new Error(`cpio add ${name}: read ${hostPath}: ${err.code ?? err.message}`);
    }
    // The header already promised `size` bytes; a file that changed meanwhile would corrupt the archive.
    if (copied !== size) throw new Error(`cpio add ${name}: ${hostPath} changed size during the build`);
    const pad = paddingTo4(size);
    if (pad) await this.sink(Buffer.alloc(pad));
  }
}

function withPadding(data: Buffer): Buffer {
  const pad = paddingTo4(data.length);
  return pad ? Buffer.concat([data, Buffer.alloc(pad)]) : data;
}
