// What a user of Kata gets: a whole pod through Kata's own shim on our image. Per shim release,
// `ctr run --rm IMAGE ID true` to its exit, and `ctr run --rm IMAGE ID echo first` to its first
// byte of output, next to the same VM booted without the shim (our remote-hypervisor's boot of
// the kernel and image, virtio-fs share included, until the agent answers Health/Check), measured
// in the same run, as ratios. Under TCG on a 2-core machine single rounds move by +-30%: read the
// medians.
//   KATA_SHIM=/path/shim-a:/path/shim-b node bench/run.mjs kata-pod [--rounds N]
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { ensureKernel } from '../image-builder/src/kernel';
import { hostShareDir, SandboxVm } from '../image-builder/src/remote-hypervisor/sandbox-vm';
import { IMAGE, KataStack, kataShims, kataStackMissingReason } from '../test/kata/kata-stack';
import { fileURLToPath } from 'node:url';
import { buildImage } from '../image-builder/src/image';
import { buildRootfs } from '../image-builder/src/rootfs/build-rootfs';

// Bundled into dist/bench/, the addon is not beside us: point at node-gyp's output (cwd is the repo root).
process.env.KATA_NATIVE_ADDON ??= path.resolve('agent/native/build/Release/kata_native.node');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);
const missing = kataStackMissingReason();
if (missing) {
  console.error(`kata-pod: ${missing}`);
  process.exit(2);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number): string => (ms / 1000).toFixed(2);

/** ctr run to exit, and to the first byte on stdout. */
function timedRun(stack: KataStack, shim: string, id: string, command: string[]): Promise<{ exitMs: number; firstOutputMs?: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let firstOutputMs: number | undefined;
    const child = spawn('ctr', ['--address', stack.ctdSocket, 'run', '--rm', '--runtime', shim, '--runtime-config-path', stack.configPath, IMAGE, id, ...command], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdout.once('data', () => (firstOutputMs = performance.now() - t0));
    child.stdout.resume();
    child.on('close', (code) => (code === 0 ? resolve({ exitMs: performance.now() - t0, firstOutputMs }) : reject(new Error(`ctr run ${id}: exit ${code}`))));
  });
}

/** The same VM without the shim: boot until the agent answers Health/Check. */
async function bareBootMs(kernel: string, image: string, stateRoot: string, id: string): Promise<number> {
  await mkdir(hostShareDir(id), { recursive: true });
  const vm = new SandboxVm(
    { id, annotations: {}, shimPid: process.pid, stateDir: path.join(stateRoot, id), consoleLog: path.join(stateRoot, `${id}.log`) },
    { kernel, image, memoryMiB: 1024, cpus: 1, agentLogLevel: 'debug', extraCmdline: [] },
  );
  const t0 = performance.now();
  try {
    await vm.start(Date.now() + 120_000);
    return performance.now() - t0;
  } finally {
    await vm.stop();
    await rm(path.dirname(hostShareDir(id)), { recursive: true, force: true });
  }
}

const kernel = (await ensureKernel()).vmlinux;
const work = await mkdtemp(path.join(tmpdir(), 'bench-kata-pod-'));
// The image every pod boots: the agent as init, Kata's DAX layout (bench/run.mjs runs from the repo root).
const declarationPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../rootfs/guest.json');
const tree = await buildRootfs({ declarationPath, outputDir: path.join(work, 'rootfs'), init: 'agent' });
const image = (await buildImage({ rootfsDir: tree.dir, output: path.join(work, 'rootfs.img'), layout: 'dax' })).path;
const stack = await KataStack.start(kernel, image);
try {
  const run = Date.now().toString(36).slice(-4);
  const bare: number[] = [];
  const perShim = new Map<string, { exit: number[]; first: number[] }>();
  for (const shim of kataShims()) perShim.set(shim, { exit: [], first: [] });
  for (let r = 0; r < rounds; r++) {
    bare.push(await bareBootMs(kernel, image, path.join(work, 'bare'), `bare-${run}-${r}`));
    for (const [shim, m] of perShim) {
      m.exit.push((await timedRun(stack, shim, `true-${run}-${r}-${m.exit.length}`, ['true'])).exitMs);
      m.first.push((await timedRun(stack, shim, `echo-${run}-${r}-${m.first.length}`, ['echo', 'first'])).firstOutputMs!);
    }
  }
  console.log(`pod start through Kata's shim vs the same boot without it, median of ${rounds} (TCG unless KVM works here):`);
  console.log(`  boot to agent Health/Check, no shim: ${s(median(bare))} s (rounds ${bare.map(s).join(', ')})`);
  for (const [shim, m] of perShim) {
    const release = /\d+\.\d+\.\d+/.exec(execFileSync(shim, ['--version'], { encoding: 'utf8' }))?.[0] ?? shim;
    console.log(`  shim ${release}: ctr run true to exit ${s(median(m.exit))} s = ${(median(m.exit) / median(bare)).toFixed(2)}x; echo to first output ${s(median(m.first))} s = ${(median(m.first) / median(bare)).toFixed(2)}x (rounds ${m.exit.map(s).join(', ')} / ${m.first.map(s).join(', ')})`);
  }
} finally {
  await stack.stop();
  await rm(work, { recursive: true, force: true });
}
