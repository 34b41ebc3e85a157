import { existsSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSampleTree, makeTempDir, removeDir, run } from './image-helpers';

// The CLI as users run it: bundled by esbuild like scripts/build.mjs does, run with node.
describe('image-builder CLI', () => {
  let work: string;
  let cli: string;

  beforeAll(async () => {
    work = await makeTempDir('cli');
    cli = path.join(work, 'image-builder.js');
    await build({
      entryPoints: ['image-builder/src/cli.ts'], outfile: cli, bundle: true, platform: 'node', target: 'node20', format: 'esm',
      external: ['*.node'], logLevel: 'silent',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    await makeSampleTree(path.join(work, 'tree'), 1_000);
  });
  afterAll(() => removeDir(work));

  it('prints usage for --help and exits 2 with a message for an unknown command or flag', () => {
    const help = run('node', [cli, '--help']);
    expect(help.status).toBe(0);
    for (const command of ['rootfs', 'initrd', 'image', 'all', 'kernel', 'boot']) expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    const unknown = run('node', [cli, 'frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const badFlag = run('node', [cli, 'image', '--fs', 'btrfs']);
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr).toMatch(/image-builder image: --fs btrfs: expected one of ext4, erofs/);
  });

  it('builds an initrd and an image from a tree, JSON on stdout and progress on stderr', () => {
    const initrd = run('node', [cli, 'initrd', '--rootfs', path.join(work, 'tree'), '--out', path.join(work, 'i.gz'), '--compression', 'gzip']);
    expect(initrd.status).toBe(0);
    expect(JSON.parse(initrd.stdout)).toMatchObject({ compression: 'gzip', level: 9, entries: 14 });
    expect(initrd.stderr).toMatch(/initrd: .* cpio -> .* gzip/);
    const image = run('node', [cli, 'image', '--rootfs', path.join(work, 'tree'), '--out', path.join(work, 'r.img'), '--layout', 'disk']);
    expect(image.status).toBe(0);
    expect(JSON.parse(image.stdout)).toMatchObject({ layout: 'disk', filesystem: 'ext4', filesystemOffset: 1 << 20 });
  });

  it('reports a failing build with the object at fault, exit status 1, and no output file', () => {
    const out = path.join(work, 'never.img');
    const failed = run('node', [cli, 'image', '--rootfs', path.join(work, 'missing-tree'), '--out', out]);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/image-builder image: read rootfs tree .*missing-tree: ENOENT/);
    expect(existsSync(out)).toBe(false);
  });

  it('dispatches kernel and boot to their modules', () => {
    expect(run('node', [cli, 'kernel', '--help']).stdout + run('node', [cli, 'kernel', '--help']).stderr).toMatch(/image-builder kernel/);
    expect(run('node', [cli, 'boot', '--help']).stdout + run('node', [cli, 'boot', '--help']).stderr).toMatch(/image-builder boot/);
  });
});
