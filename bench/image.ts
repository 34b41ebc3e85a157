// Image builder benchmark: sizes and warm build times of the real guest (rootfs/guest.json),
// printed next to the content they hold and as ratios to the project's targets:
//   initrd <= 30 MB compressed including Node; image = content + <= 8 MiB; warm build <= 60 s.
//   node bench/run.mjs image [--init agent|test-shell] [--zstd-level N] [--skip-zstd]
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildImage } from '../image-builder/src/image/index';
import { buildInitrd } from '../image-builder/src/initrd/index';
import { silentProgress } from '../image-builder/src/progress/progress';
import { buildRootfs } from '../image-builder/src/rootfs/build-rootfs';

const MB = 1_000_000;
const MiB = 1 << 20;
const { values } = parseArgs({
  options: {
    init: { type: 'string', default: 'test-shell' },
    'zstd-level': { type: 'string', default: '19' },
    'skip-zstd': { type: 'boolean', default: false },
    declaration: { type: 'string', default: 'rootfs/guest.json' },
  },
});

async function timed<T>(step: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const result = await step();
  return [result, (performance.now() - t0) / 1000];
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
const work = await mkdtemp(join(tmpdir(), 'kata-bench-image-'));
try {
  const tree = join(work, 'rootfs');
  const init = values.init === 'agent' ? 'agent' : 'test-shell';
  // First build warms the package cache; the timed one is the warm build the target is about.
  await buildRootfs({ declarationPath: values.declaration!, outputDir: tree, init, progress: silentProgress });
  const [rootfs, rootfsS] = await timed(() => buildRootfs({ declarationPath: values.declaration!, outputDir: tree, init, progress: silentProgress }));
  const nodeBytes = (await stat(join(tree, 'usr/bin/node'))).size;
  const nodeLibs = rootfs.closures.find((c) => c.binary.startsWith('/usr/bin/node'))!;

  const [gzip, gzipS] = await timed(() => buildInitrd({ rootfsDir: tree, output: join(work, 'initrd.gz'), compression: 'gzip', level: 6 }));
  const zstdLevel = Number(values['zstd-level']);
  // A private segment cache: the first zstd build compresses Node (cold), the second reuses it (warm).
  const segmentCacheDir = join(work, 'segment-cache');
  const zstdBuild = () => buildInitrd({ rootfsDir: tree, output: join(work, 'initrd.zst'), compression: 'zstd', level: zstdLevel, segmentCacheDir });
  const zstdCold = values['skip-zstd'] ? undefined : await timed(zstdBuild);
  const zstd = values['skip-zstd'] ? undefined : await timed(zstdBuild);
  const [ext4, ext4S] = await timed(() => buildImage({ rootfsDir: tree, output: join(work, 'rootfs.img') }));
  const [erofs, erofsS] = await timed(() => buildImage({ rootfsDir: tree, output: join(work, 'rootfs-erofs.img'), filesystem: 'erofs' }));

  const rows: Array<[string, string]> = [
    ['rootfs tree (warm package cache)', `${rootfs.entries} entries, ${mib(rootfs.fileBytes)} of files, ${rootfsS.toFixed(2)} s`],
    ['  Node binary (stripped)', `${mib(nodeBytes)} = ${(nodeBytes / rootfs.fileBytes * 100).toFixed(0)}% of the tree`],
    ['  Node shared-library closure', `${nodeLibs.libraries.join(' ')}: ${mib(nodeLibs.libraryBytes)}`],
    ['initrd cpio (uncompressed)', mib(gzip.uncompressedBytes)],
    ['initrd gzip -6', `${(gzip.bytes / MB).toFixed(1)} MB, ${(gzip.bytes / gzip.uncompressedBytes).toFixed(3)} of cpio, ${gzipS.toFixed(1)} s, target ratio ${(gzip.bytes / (30 * MB)).toFixed(2)}`],
  ];
  if (zstd && zstdCold) {
    const [z, zS] = zstd;
    rows.push([`initrd zstd -${zstdLevel}`, `${(z.bytes / MB).toFixed(1)} MB, ${(z.bytes / z.uncompressedBytes).toFixed(3)} of cpio, target ratio ${(z.bytes / (30 * MB)).toFixed(2)} (<= 1 meets 30 MB)`]);
    rows.push(['  build, Node segment cold / cached', `${zstdCold[1].toFixed(1)} s / ${zS.toFixed(1)} s = ${(zS / zstdCold[1]).toFixed(2)}`]);
  }
  rows.push(
    ['image ext4 (dax layout)', `${mib(ext4.bytes)} for ${mib(ext4.contentBytes)} of content: +${mib(ext4.bytes - ext4.contentBytes)}, target ratio ${((ext4.bytes - ext4.contentBytes) / (8 * MiB)).toFixed(2)} (<= 1 meets +8 MiB), ${ext4S.toFixed(2)} s`],
    ['image erofs (dax layout)', `${mib(erofs.bytes)}: +${mib(erofs.bytes - erofs.contentBytes)} over content, ${erofsS.toFixed(2)} s`],
    ['  osbuilder would round to', `${mib(Math.ceil(ext4.bytes / (128 * MiB)) * 128 * MiB)} (128 MiB multiples)`],
  );
  const warmImage = rootfsS + ext4S;
  rows.push(['warm build rootfs + image', `${warmImage.toFixed(1)} s, target ratio ${(warmImage / 60).toFixed(2)} (<= 1 meets 60 s)`]);
  if (zstd) {
    const warmAll = rootfsS + ext4S + zstd[1];
    rows.push(['warm build rootfs + image + zstd initrd (Node segment cached)', `${warmAll.toFixed(1)} s, target ratio ${(warmAll / 60).toFixed(2)}`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
