// Agent-ready benchmark (issue 5): in the same run, on the same kernel, for the DAX image
// (nvdimm) and the initrd boot of our rootfs:
//   - when init starts (the kernel's "Run ... as init process" printk time) and when the agent
//     logs "agent ready" (its uptime field), as PID 1;
//   - a bare `node -e 0` started by a test init in the same image: its first and second run;
//   - a busybox-initramfs baseline (init start and its ready marker);
//   - the agent's idle RSS (RssAnon, RssFile of PID 1 after ready);
//   - the agent started from its V8 startup snapshot (what /sbin/init runs) and from the bundle,
//     and the bundle under Node launch flags (jitless, small heaps, lite mode, single-threaded).
// Prints the ratio agent-ready / bare-node-start (target <= 1.2) and RSS against 16 MB anon.
//   node bench/run.mjs agent-ready [--rounds N] [--variants all|snapshot,bundle,...] [--initrd-variants] [--media image,initrd]
//     [--icount SHIFT]
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildImage } from '../image-builder/src/image';
import { buildInitrd } from '../image-builder/src/initrd';
import { ensureKernel, type KernelArtifacts } from '../image-builder/src/kernel';
import { bootVm, type BootMedia, type VmHandle } from '../image-builder/src/qemu';
import { buildAgentSnapshot, SNAPSHOT_NODE_OPTIONS } from '../image-builder/src/rootfs/agent-snapshot';
import { buildRootfs } from '../image-builder/src/rootfs/build-rootfs';
import { packInitrd, READY_PATTERN, writeBusyboxTree } from '../test/vm/busybox-guest';

const AGENT = '/usr/lib/kata-agent/agent.js';
const BLOB = '/usr/lib/kata-agent/agent.blob';
const INIT_STARTS = /^\[\s*([\d.]+)\] Run (\S+) as init process/;
const AGENT_READY = /"msg":"agent ready".*"uptime":([\d.]+)/;
const NODE_RUNS = /^NODE_RUNS init=(\d+) first=(\d+) second=(\d+)/;
const BOOT_MS = 300_000;
/** The empty snapshot's main: a ready line in the agent's format, at once. */
const EMPTY_SNAPSHOT_MAIN = `require('node:v8').startupSnapshot.setDeserializeMainFunction(() => {
  if (process.argv.includes('--version')) return; // the image builder's check that the blob loads
  const uptime = Number(process.hrtime.bigint() / 1000n) / 1e6;
  process.stdout.write(JSON.stringify({ ts: '', msg: 'agent ready', uptime, startup: { main: process.uptime() } }) + '\\n');
  setInterval(() => undefined, 1 << 30);
});
`;

/**
 * Ways to start the agent. `start`: 'image init' boots the image's own init, as Kata boots it (it
 * starts the agent from the snapshot the image builder made); the others are init scripts in the
 * bench image that run node with `flags` on the bundle, on the snapshot, or on an empty snapshot
 * of the same node (EMPTY_SNAPSHOT_MAIN: the floor of any snapshot start).
 */
interface Variant {
  name: string;
  start: 'image init' | 'bundle' | 'snapshot' | 'empty snapshot';
  flags: string;
}
const VARIANTS: Variant[] = [
  { name: 'snapshot', start: 'image init', flags: '' },
  { name: 'bundle', start: 'bundle', flags: '' },
  { name: 'jitless', start: 'bundle', flags: '--jitless' },
  { name: 'lite-mode', start: 'bundle', flags: '--lite-mode' },
  { name: 'single-threaded', start: 'bundle', flags: '--single-threaded' },
  { name: 'semi-space-1', start: 'bundle', flags: '--max-semi-space-size=1' },
  { name: 'semi-1+old-64', start: 'bundle', flags: '--max-semi-space-size=1 --max-old-space-size=64' },
  { name: 'semi-1+lite', start: 'bundle', flags: '--max-semi-space-size=1 --lite-mode' },
  { name: 'semi-1+jitless', start: 'bundle', flags: '--max-semi-space-size=1 --jitless' },
  // snap-sh: the bench script alone, what the flag variants compare to.
  { name: 'snap-sh', start: 'snapshot', flags: '' },
  { name: 'snap-single-threaded', start: 'snapshot', flags: '--single-threaded' },
  { name: 'snap-jitless', start: 'snapshot', flags: '--jitless' },
  { name: 'snap-lite-mode', start: 'snapshot', flags: '--lite-mode' },
  { name: 'snap-semi-space-1', start: 'snapshot', flags: '--max-semi-space-size=1' },
  { name: 'empty-snapshot', start: 'empty snapshot', flags: '' },
];

function variantNamed(name: string): Variant {
  const v = VARIANTS.find((x) => x.name === name);
  if (!v) throw new Error(`no variant ${name} (have ${VARIANTS.map((x) => x.name).join(', ')})`);
  return v;
}
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string', default: 'all' },
    'initrd-variants': { type: 'boolean', default: false },
    media: { type: 'string', default: 'image,initrd' },
    // Guest clock from instruction counts (see BootOptions.icountShift): load on the host then
    // no longer moves the figures, and TCG's translation work, which KVM guests never pay,
    // is not counted.
    icount: { type: 'string' },
  },
});
const rounds = Number(values.rounds);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * The test init that times two bare Node starts, in seconds of CLOCK_MONOTONIC (from boot, as
 * the agent's ready line). The clock is the "now at N nsecs" line of /proc/timer_list (nanoseconds;
 * /proc/uptime counts 10 ms), read with shell builtins only: no process runs between a reading
 * and Node, so each figure is Node's run alone.
 */
const NODE_START_SCRIPT = `#!/bin/busybox sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
busybox mount -t proc proc /proc
now() { while read a b c rest; do if [ "$a $b" = "now at" ]; then T=$c; return; fi; done </proc/timer_list; }
now; t0=$T
/usr/bin/node -e 0
now; t1=$T
/usr/bin/node -e 0
now; t2=$T
echo "NODE_RUNS init=$t0 first=$t1 second=$t2"
busybox poweroff -f
`;

function agentScript(v: Variant): string {
  const fromBlob = SNAPSHOT_NODE_OPTIONS.join(' ');
  const target = { 'image init': '', bundle: AGENT, snapshot: `${fromBlob} --snapshot-blob ${BLOB} --`, 'empty snapshot': `${fromBlob} --snapshot-blob /bench/empty.blob` }[v.start];
  return `#!/bin/busybox sh\nexport PATH=/usr/sbin:/usr/bin:/sbin:/bin\nexec /usr/bin/node ${`${v.flags} ${target}`.trim()} "$@"\n`;
}

async function addBenchInits(tree: string): Promise<void> {
  await mkdir(join(tree, 'bench'), { recursive: true });
  const scripts: Array<[string, string]> = [['node-start.sh', NODE_START_SCRIPT], ...VARIANTS.filter((v) => v.start !== 'image init').map((v): [string, string] => [`agent-${v.name}.sh`, agentScript(v)])];
  for (const [name, text] of scripts) {
    await writeFile(join(tree, 'bench', name), text);
    await chmod(join(tree, 'bench', name), 0o755);
  }
  const emptyMain = join(tree, '..', 'empty-snapshot.cjs');
  await writeFile(emptyMain, EMPTY_SNAPSHOT_MAIN);
  await buildAgentSnapshot({ node: join(tree, 'usr/bin/node'), entry: emptyMain, blob: join(tree, 'bench/empty.blob') });
}

async function boot(kernel: KernelArtifacts, media: BootMedia, init: string | undefined, extra: string[]): Promise<VmHandle> {
  // An initramfs runs rdinit (default /init); init= is only for a disk root.
  const initArg = init === undefined ? [] : [media.kind === 'initrd' ? `rdinit=${init}` : `init=${init}`];
  return bootVm({
    kernel: kernel.vmlinux, media, accel: 'tcg', agentChannel: 'none', extraCmdline: [...initArg, ...extra], timeoutMs: BOOT_MS,
    icountShift: values.icount === undefined ? undefined : Number(values.icount),
  });
}

function initStart(vm: VmHandle): number {
  const line = vm.consoleLines.map((l) => INIT_STARTS.exec(l)).find((m) => m);
  if (!line) throw new Error('no "Run ... as init process" line on the console');
  return Number(line[1]);
}

interface NodeSample {
  init: number;
  /** From init start to the end of the first `node -e 0` (what the agent's ready time compares to). */
  firstAfterInit: number;
  first: number;
  second: number;
}

async function measureNode(kernel: KernelArtifacts, media: BootMedia): Promise<NodeSample> {
  const vm = await boot(kernel, media, '/bench/node-start.sh', []);
  try {
    const m = await vm.waitForConsole(NODE_RUNS, BOOT_MS);
    const [t0, t1, t2] = [Number(m[1]) / 1e9, Number(m[2]) / 1e9, Number(m[3]) / 1e9];
    const init = initStart(vm);
    return { init, firstAfterInit: t1 - init, first: t1 - t0, second: t2 - t1 };
  } finally {
    await vm.stop();
  }
}

interface AgentSample {
  init: number;
  ready: number;
  anonKb: number;
  fileKb: number;
  /** File pages of a tmpfs/ramfs root (the initramfs) count as shmem; DAX pages count as neither. */
  shmemKb: number;
  /** The ready line's step ends, in seconds of the agent process's life. */
  startup: Record<string, number>;
}

async function measureAgent(kernel: KernelArtifacts, media: BootMedia, variant: Variant): Promise<AgentSample> {
  // The serial debug console reads PID 1's memory after ready (every variant has it: same cost).
  const extra = ['agent.debug_console'];
  const vm = await boot(kernel, media, variant.start === 'image init' ? undefined : `/bench/agent-${variant.name}.sh`, extra);
  try {
    const readyLine = await vm.waitForConsole(AGENT_READY, BOOT_MS);
    const ready = Number(readyLine[1]);
    const record = JSON.parse(readyLine.input.slice(readyLine.input.indexOf('{"ts"'))) as { startup?: Record<string, number> };
    // The empty snapshot runs no shell to read PID 1's memory with.
    if (variant.start === 'empty snapshot') {
      return { init: initStart(vm), ready, anonKb: NaN, fileKb: NaN, shmemKb: NaN, startup: record.startup ?? {} };
    }
    vm.writeConsole("busybox grep -E '^Rss(Anon|File|Shmem)' /proc/1/status | busybox tr -s ' \\t' ' ' | busybox sed 's/^/MEM /'; echo MEM_DONE\n");
    await vm.waitForConsole(/^MEM_DONE/, 60_000);
    const kb = (key: string): number => {
      const line = vm.consoleLines.find((l) => l.startsWith(`MEM ${key}:`));
      if (!line) throw new Error(`${variant.name}: no ${key} in /proc/1/status`);
      return Number(line.split(' ')[2]);
    };
    return { init: initStart(vm), ready, anonKb: kb('RssAnon'), fileKb: kb('RssFile'), shmemKb: kb('RssShmem'), startup: record.startup ?? {} };
  } finally {
    await vm.stop();
  }
}

async function measureBusybox(kernel: KernelArtifacts, media: BootMedia): Promise<{ init: number; ready: number }> {
  const vm = await boot(kernel, media, undefined, []);
  try {
    const ready = Number((await vm.waitForConsole(READY_PATTERN, BOOT_MS))[1]);
    return { init: initStart(vm), ready };
  } finally {
    await vm.stop();
  }
}

/** Decimals of the times printed: the instruction clock holds still to the millisecond. */
const digits = values.icount === undefined ? 2 : 3;
const s = (x: number): string => `${x.toFixed(digits)} s`;
const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;

const work = await mkdtemp(join(tmpdir(), 'bench-agent-ready-'));
try {
  const kernel = await ensureKernel({ log: (m) => process.stderr.write(`[kernel] ${m}\n`) });
  const tree = await buildRootfs({ declarationPath: resolve('rootfs/guest.json'), outputDir: join(work, 'rootfs'), init: 'agent' });
  await addBenchInits(tree.dir);
  const image = (await buildImage({ rootfsDir: tree.dir, output: join(work, 'rootfs.img'), layout: 'dax' })).path;
  const initrd = (await buildInitrd({ rootfsDir: tree.dir, output: join(work, 'rootfs.initrd') })).path;
  const bbTree = join(work, 'busybox');
  await writeBusyboxTree(bbTree);
  await packInitrd(bbTree, join(work, 'busybox.cpio.gz'));

  const allMedia: Array<{ name: string; media: BootMedia; allVariants: boolean }> = [
    { name: 'image (DAX, nvdimm)', media: { kind: 'image', image, attach: 'nvdimm' }, allVariants: true },
    { name: 'initrd (zstd)', media: { kind: 'initrd', initrd }, allVariants: values['initrd-variants'] },
  ];
  const media = allMedia.filter((m) => values.media.split(',').includes(m.media.kind));
  const variants = values.variants === 'all' ? VARIANTS : values.variants.split(',').map(variantNamed);

  const bb: Array<{ init: number; ready: number }> = [];
  for (let i = 0; i < rounds; i++) bb.push(await measureBusybox(kernel, { kind: 'initrd', initrd: join(work, 'busybox.cpio.gz') }));
  const bbInit = median(bb.map((x) => x.init));
  const clock = values.icount === undefined ? 'kernel clock' : `kernel clock driven by instruction counts, 2^${values.icount} ns each`;
  console.log(`\nagent ready under TCG, median of ${rounds}; times are guest uptime (${clock})`);
  console.log(`busybox initramfs baseline: init starts at ${s(bbInit)}, its ready marker at ${s(median(bb.map((x) => x.ready)))}`);

  for (const m of media) {
    // Rounds interleave the bare-Node boot with each agent variant's, and each ratio is taken
    // within a round: the machine's load drifts over minutes, and a ratio of two medians taken
    // minutes apart carries that drift.
    const chosen = m.allVariants ? variants : ['snapshot', 'bundle'].map(variantNamed);
    const node: NodeSample[] = [];
    const samples = new Map<Variant, AgentSample[]>(chosen.map((v) => [v, []]));
    for (let i = 0; i < rounds; i++) {
      node.push(await measureNode(kernel, m.media));
      for (const v of chosen) samples.get(v)!.push(await measureAgent(kernel, m.media, v));
    }
    const nodeInit = median(node.map((x) => x.init));
    const firstAfterInit = median(node.map((x) => x.firstAfterInit));
    const first = median(node.map((x) => x.first));
    const second = median(node.map((x) => x.second));
    console.log(
      `\n${m.name}: init starts at ${s(nodeInit)} (${(nodeInit / bbInit).toFixed(2)}x busybox); bare node -e 0: first ${s(first)} ` +
        `(done ${s(firstAfterInit)} after init starts), second ${s(second)}`,
    );
    console.log('variant          | init at | ready after init | x node first | x node second | x first, each round      | RssAnon | RssFile | RssShmem | flags');
    const steps: string[] = [];
    for (const [variant, runs] of samples) {
      const name = variant.name;
      const after = runs.map((x) => x.ready - x.init);
      const perRound = after.map((a, i) => a / node[i]!.first);
      const anon = median(runs.map((x) => x.anonKb));
      const file = median(runs.map((x) => x.fileKb));
      const shmem = median(runs.map((x) => x.shmemKb));
      const flags = variant.start === 'bundle' || variant.start === 'snapshot' ? `${variant.start} ${variant.flags}`.trim() : `(${variant.start})`;
      console.log(
        `${name.padEnd(16)} | ${s(median(runs.map((x) => x.init))).padStart(7)} | ${s(median(after)).padStart(16)} | ${median(perRound).toFixed(2).padStart(12)} | ` +
          `${(median(after) / second).toFixed(2).padStart(13)} | ${perRound.map((r) => r.toFixed(2)).join(' ').padEnd(24)} | ` +
          `${mb(anon).padStart(7)} | ${mb(file).padStart(7)} | ${mb(shmem).padStart(8)} | ${flags}`,
      );
      steps.push(`${name.padEnd(16)} | ${Object.keys(runs[0]!.startup).map((k) => `${k} ${median(runs.map((x) => x.startup[k] ?? NaN)).toFixed(digits)}`).join(', ')}`);
    }
    console.log('agent process time (s) at the end of each start-up step (main = Node started and the bundle loaded):');
    for (const line of steps) console.log(line);
  }
  console.log('\nx node first: agent ready after init starts / the first `node -e 0` run (same image, same boot path),');
  console.log('  the median of the per-round ratios (each round boots bare Node, then each variant)');
  console.log('x node second: agent ready after init / a second `node -e 0` (Node already paged in)');
  console.log('targets: x node first <= 1.2; RssAnon <= 16 MB');
} finally {
  await rm(work, { recursive: true, force: true });
}
