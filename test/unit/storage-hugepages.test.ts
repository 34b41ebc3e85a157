import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reserveHugepages } from '../../agent/src/storage/drivers/hugepages';
import { Code, RpcError } from '../../agent/src/ttrpc/status';

let sys: string;
beforeEach(() => {
  sys = mkdtempSync(path.join(tmpdir(), 'storage-hugepages-'));
});
afterEach(() => rmSync(sys, { recursive: true, force: true }));

describe('hugetlbfs ephemeral volumes', () => {
  it('reserves size/pagesize pages in the pool of that page size', async () => {
    const pool = path.join(sys, 'kernel/mm/hugepages/hugepages-2048kB');
    mkdirSync(pool, { recursive: true });
    writeFileSync(path.join(pool, 'nr_hugepages'), '0');
    await reserveHugepages(sys, ['pagesize=2097152,size=524288000'], '/run/hp');
    expect(readFileSync(path.join(pool, 'nr_hugepages'), 'utf8')).toBe('250');
  });

  it('refuses options without sizes in bytes, and names a missing pool', async () => {
    await expect(reserveHugepages(sys, ['pagesize=2M', 'size=100M'], '/run/hp')).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    const err = await reserveHugepages(sys, ['pagesize=1073741824', 'size=2147483648'], '/run/hp').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.NOT_FOUND);
    expect((err as RpcError).message).toContain('hugepages-1048576kB/nr_hugepages');
  });
});
