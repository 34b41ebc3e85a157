// hugetlbfs ephemeral volumes (Kubernetes hugepages-2Mi / -1Gi emptyDirs): the pages have to be
// reserved in the guest before the filesystem can hand them out. Options carry sizes in bytes:
// "pagesize=2097152", "size=524288000".
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Code, RpcError } from '../../ttrpc/status';
import { invalidStorage, storageError } from '../errors';
import { optionValue } from '../mount-options';

export async function reserveHugepages(sysRoot: string, options: readonly string[], mountPoint: string): Promise<void> {
  const what = `reserve hugepages for ${mountPoint}`;
  const pagesize = Number(optionValue(options, 'pagesize'));
  const size = Number(optionValue(options, 'size'));
  if (!Number.isSafeInteger(pagesize) || pagesize < 4096 || !Number.isSafeInteger(size) || size <= 0) {
    throw invalidStorage(`${what}: need numeric pagesize= and size= options in bytes, got ${JSON.stringify(options)}`);
  }
  const pages = Math.floor(size / pagesize);
  const file = path.join(sysRoot, 'kernel/mm/hugepages', `hugepages-${pagesize / 1024}kB`, 'nr_hugepages');
  try {
    await writeFile(file, String(pages));
  } catch (err) {
    throw storageError(`${what}: write ${pages} to ${file}`, err);
  }
  // The kernel may reserve fewer pages than asked for when memory is short or fragmented.
  const reserved = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (reserved < pages) {
    throw new RpcError(Code.RESOURCE_EXHAUSTED, `${what}: asked for ${pages} pages of ${pagesize} bytes, the kernel reserved ${reserved}`);
  }
}
