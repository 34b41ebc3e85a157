import { describe, expect, it } from 'vitest';
import { readElfDynamicInfo } from '../../image-builder/src/elf/elf-dynamic';
import { run } from './image-helpers';

/** What binutils' readelf reports, as the independent reference for our parser. */
function readelfFacts(file: string): { interpreter?: string; needed: string[]; runpath: string[] } {
  const dynamic = run('readelf', ['-d', '-W', file]).stdout;
  const program = run('readelf', ['-l', '-W', file]).stdout;
  return {
    interpreter: /Requesting program interpreter: (.+?)\]/.exec(program)?.[1],
    needed: [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]!),
    runpath: [...dynamic.matchAll(/\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[(.+?)\]/g)].flatMap((m) => m[1]!.split(':')),
  };
}

describe('ELF dynamic section reader', () => {
  it.each(['/usr/bin/node', '/usr/bin/crun', '/usr/bin/qemu-system-x86_64', '/lib/x86_64-linux-gnu/libc.so.6', '/bin/busybox',
    '/usr/lib/x86_64-linux-gnu/gconv/EUC-KR.so' /* has DT_RUNPATH $ORIGIN */])(
    'agrees with readelf on %s', async (file) => {
      const ours = await readElfDynamicInfo(file);
      const reference = readelfFacts(file);
      expect(ours).toBeDefined();
      expect(ours!.interpreter).toBe(reference.interpreter);
      expect(ours!.needed).toEqual(reference.needed);
      expect(ours!.searchPaths).toEqual(reference.runpath);
    });

  it('says "not ELF" for scripts and text', async () => {
    expect(await readElfDynamicInfo('rootfs/init/test-shell.sh')).toBeUndefined();
  });

  it('names the file it cannot read', async () => {
    await expect(readElfDynamicInfo('/nonexistent/kata-binary')).rejects.toThrow('read ELF /nonexistent/kata-binary: ENOENT');
  });
});
