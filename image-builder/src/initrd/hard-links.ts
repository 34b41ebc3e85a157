// Files with several names in the tree (the same host device and inode) go into the archive once:
// the cpio writer shares one inode number among the names and stores the data with the last.
import { lstat } from 'node:fs/promises';
import type { CpioMember } from '../cpio/newc-writer';

type FileMember = Extract<CpioMember, { kind: 'file' }>;

/**
 * Returns the members with `hardLink` set on every name of a multiply-linked file. A group is
 * named by its first name in archive order and counts only names inside the tree (the host's
 * nlink may include names elsewhere, e.g. a package cache), so the archive depends on the tree
 * alone, not on host inode numbers.
 */
export async function groupHardLinks(members: CpioMember[]): Promise<CpioMember[]> {
  const byInode = new Map<string, FileMember[]>();
  for (const member of members) {
    if (member.kind !== 'file') continue;
    const st = await lstat(member.hostPath, { bigint: true }).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`initrd: stat ${member.hostPath} for ${member.name}: ${e.code ?? e.message}`);
    });
    if (st.nlink < 2n) continue;
    const key = `${st.dev}:${st.ino}`;
    const names = byInode.get(key);
    if (names) names.push(member);
    else byInode.set(key, [member]);
  }
  const linked = new Map<FileMember, FileMember>();
  for (const names of byInode.values()) {
    if (names.length < 2) continue;
    const hardLink = { group: names[0]!.name, names: names.length };
    for (const m of names) linked.set(m, { ...m, hardLink });
  }
  return members.map((m) => (m.kind === 'file' && linked.get(m)) || m);
}
