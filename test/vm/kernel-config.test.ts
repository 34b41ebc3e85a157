// The fragment check: options that olddefconfig drops must be reported by name, with requested
// and final values; the real fragments must all survive in the kernel we build.
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureKernel, findDroppedOptions, loadFragments, parseKconfig } from '../../image-builder/src/kernel';
import { findKernelConfigDir } from '../../image-builder/src/kernel/project-paths';
import { KERNEL_BUILD_TIMEOUT_MS, testKernel, withTempDir } from './vm-fixture';

describe('kconfig parsing', () => {
  it('reads set and "is not set" lines and reports dropped or changed options', () => {
    const final = parseKconfig('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x"\n# comment\n');
    expect(final.get('CONFIG_B')).toBe('n');
    const dropped = findDroppedOptions(
      [{ fragment: 'f.config', values: parseKconfig('CONFIG_A=y\nCONFIG_B=y\nCONFIG_C="x"\nCONFIG_D=y\n# CONFIG_E is not set\n') }],
      final,
    );
    expect(dropped).toEqual([
      { option: 'CONFIG_B', fragment: 'f.config', requested: 'y', got: 'n' },
      { option: 'CONFIG_D', fragment: 'f.config', requested: 'y', got: 'unset' },
    ]);
  });
});

describe('kernel build', () => {
  it(
    'builds (or reuses) a kernel whose .config carries every option the fragments ask for',
    async () => {
      const kernel = await testKernel();
      const fragments = await loadFragments(join(findKernelConfigDir(), 'fragments'));
      const final = parseKconfig(await readFile(kernel.config, 'utf8'));
      expect(findDroppedOptions(fragments.map((f) => ({ fragment: f.name, values: f.values })), final)).toEqual([]);
      // A second call is a cache hit and returns the same kernel.
      const again = await testKernel();
      expect(again.fromCache).toBe(true);
      expect(again.bzImage).toBe(kernel.bzImage);
    },
    KERNEL_BUILD_TIMEOUT_MS,
  );

  it(
    'fails before compiling, naming each option that did not survive olddefconfig',
    async () => {
      await testKernel(); // the source tree and object dir exist, so this stays a config-only run
      await withTempDir('kcfg-', async (dir) => {
        await cp(findKernelConfigDir(), dir, { recursive: true });
        // Sound drivers depend on SOUND/SND, which nothing enables: olddefconfig drops it.
        await writeFile(join(dir, 'fragments', 'zz-broken.config'), 'CONFIG_SND_HDA_INTEL=y\n');
        await expect(ensureKernel({ configDir: dir })).rejects.toThrow(
          /CONFIG_SND_HDA_INTEL: requested y \(zz-broken\.config\), got unset/,
        );
      });
    },
    KERNEL_BUILD_TIMEOUT_MS,
  );
});
