import { open } from 'node:fs/promises';

// Just enough of ELF64 (System V gABI) to learn what a binary needs at run time:
// the PT_INTERP program interpreter and the DT_NEEDED / DT_RUNPATH / DT_RPATH dynamic entries.

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

export interface ElfDynamicInfo {
  /** e.g. /lib64/ld-linux-x86-64.so.2; absent for static binaries and shared libraries. */
  interpreter?: string;
  /** DT_NEEDED sonames in file order. */
  needed: string[];
  /** DT_RUNPATH (or legacy DT_RPATH) directories, unexpanded ($ORIGIN stays as is). */
  searchPaths: string[];
}

interface ProgramHeader {
  type: number;
  offset: number;
  vaddr: number;
  fileSize: number;
}

/** Reads the dynamic-linking facts of an ELF file; returns undefined for a file that is not ELF. */
export async function readElfDynamicInfo(file: string): Promise<ElfDynamicInfo | undefined> {
  const fh = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`read ELF ${file}: ${e.code ?? e.message}`);
  });
  try {
    const readAt = async (offset: number, length: number): Promise<Buffer> => {
      const b = Buffer.alloc(length);
      const { bytesRead } = await fh.read(b, 0, length, offset);
      if (bytesRead !== length) throw new Error(`read ELF ${file}: truncated at ${offset}+${length}`);
      return b;
    };
    const ident = Buffer.alloc(64);
    const { bytesRead } = await fh.read(ident, 0, 64, 0);
    if (bytesRead < 64 || ident.readUInt32BE(0) !== 0x7f454c46) return undefined;
    if (ident[4] !== 2 || ident[5] !== 1) throw new Error(`read ELF ${file}: only 64-bit little-endian ELF is supported`);
    const phoff = Number(ident.readBigUInt64LE(0x20));
    const phentsize = ident.readUInt16LE(0x36);
    const phnum = ident.readUInt16LE(0x38);
    const table = await readAt(phoff, phentsize * phnum);
    const headers: ProgramHeader[] = [];
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      headers.push({
        type: table.readUInt32LE(at),
        offset: Number(table.readBigUInt64LE(at + 8)),
        vaddr: Number(table.readBigUInt64LE(at + 16)),
        fileSize: Number(table.readBigUInt64LE(at + 32)),
      });
    }
    const info: ElfDynamicInfo = { needed: [], searchPaths: [] };
    const interp = headers.find((h) => h.type === PT_INTERP);
    if (interp) info.interpreter = cString(await readAt(interp.offset, interp.fileSize), 0);
    const dynamic = headers.find((h) => h.type === PT_DYNAMIC);
    if (!dynamic) return info;

    const entries = await readAt(dynamic.offset, dynamic.fileSize);
    const tags: Array<[bigint, bigint]> = [];
    for (let at = 0; at + 16 <= entries.length; at += 16) {
      const tag = entries.readBigInt64LE(at);
      if (tag === DT_NULL) break;
      tags.push([tag, entries.readBigUInt64LE(at + 8)]);
    }
    const strtabVaddr = tags.find(([t]) => t === DT_STRTAB)?.[1];
    const strsz = tags.find(([t]) => t === DT_STRSZ)?.[1];
    if (strtabVaddr === undefined || strsz === undefined) return info;
    // DT_STRTAB is a virtual address: map it to a file offset through the PT_LOAD that holds it.
    const load = headers.find((h) => h.type === PT_LOAD && Number(strtabVaddr) >= h.vaddr && Number(strtabVaddr) < h.vaddr + h.fileSize);
    if (!load) throw new Error(`read ELF ${file}: string table outside every loadable segment`);
    const strings = await readAt(Number(strtabVaddr) - load.vaddr + load.offset, Number(strsz));
    const runpath = tags.filter(([t]) => t === DT_RUNPATH);
    for (const [tag, value] of tags) {
      if (tag === DT_NEEDED) info.needed.push(cString(strings, Number(value)));
    }
    // DT_RPATH is ignored by the loader when DT_RUNPATH is present.
    for (const [, value] of runpath.length ? runpath : tags.filter(([t]) => t === DT_RPATH)) {
      info.searchPaths.push(...cString(strings, Number(value)).split(':').filter(Boolean));
    }
    return info;
  } finally {
    await fh.close();
  }
}

function cString(buffer: Buffer, offset: number): string {
  const end = buffer.indexOf(0, offset);
  return buffer.toString('utf8', offset, end === -1 ? buffer.length : end);
}
