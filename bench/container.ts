// Container benchmark: the agent (on a unix socket, driven by our client, real crun) next to
// baselines measured in the same run, printed as ratios.
//   node bench/run.mjs container [--rounds N] [--mb N]
// 1. Lifecycle of a busybox `true` container: CreateContainer + StartContainer + WaitProcess
//    through the agent (RemoveContainer timed apart), next to a bare `crun run` (which creates,
//    starts, waits and deletes in one process) of the very bundle the agent wrote, in the
//    agent's mount namespace (entered with nsenter, one exec more than the agent pays). Target
//    <= 1.25x. Also bare `crun create`, `crun start`, `crun delete` one process each: the calls
//    the agent has to make, since a Kata runtime sends CreateContainer and StartContainer apart.
// 2. ReadStdout throughput: N MB from `dd` in the container, pulled with ReadStdout, next
//    to the same command on the host read from a plain pipe. Target >= 100 MB/s.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

// The test helpers find their files through __dirname (they run as CommonJS under vitest);
// this bundle is ESM, so give them theirs before loading them.
(globalThis as { __dirname?: string }).__dirname = path.resolve('test/helpers');
const { startContainerAgent } = await import('../test/helpers/container-agent');
const { containerSpec, processSpec, sandboxRequest } = await import('../test/helpers/container-spec');
const { BUSYBOX } = await import('../test/helpers/container-rootfs');

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' }, mb: { type: 'string', default: '200' } } });
const rounds = Number(values.rounds);
const streamBytes = Number(values.mb) * 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
  });
}

/** Bytes per second of `cmd` writing to a plain pipe that Node reads. */
function plainPipeRate(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let total = 0;
    child.stdout.on('data', (b: Buffer) => (total += b.length));
    child.once('error', reject);
    child.stdout.once('end', () => resolve(total / ((performance.now() - started) / 1000)));
  });
}

const agent = await startContainerAgent();
const call = <T extends Record<string, unknown> = Record<string, unknown>>(method: string, req: Record<string, unknown>) =>
  agent.client.request<T>(method, req);
const work = mkdtempSync(path.join(tmpdir(), 'kata-bench-ct-'));
try {
  await call('CreateSandbox', sandboxRequest());

  // --- 1. lifecycle ---
  const cid = 'bench-true';
  agent.addRootfs(cid);
  const spec = containerSpec(cid, ['true']);
  const phases = { create: [] as number[], start: [] as number[], wait: [] as number[], remove: [] as number[] };
  /** create+start+wait in ms (the target's measure); RemoveContainer is timed apart. */
  const agentLifecycle = async (): Promise<number> => {
    const t0 = performance.now();
    await call('CreateContainer', { container_id: cid, exec_id: cid, OCI: spec });
    const t1 = performance.now();
    await call('StartContainer', { container_id: cid });
    const t2 = performance.now();
    const { status } = await call<{ status: number }>('WaitProcess', { container_id: cid, exec_id: cid });
    const t3 = performance.now();
    await call('RemoveContainer', { container_id: cid, timeout: 10 });
    const t4 = performance.now();
    if (status !== 0) throw new Error(`container exited with ${status}`);
    phases.create.push(t1 - t0);
    phases.start.push(t2 - t1);
    phases.wait.push(t3 - t2);
    phases.remove.push(t4 - t3);
    return t3 - t0;
  };
  // The bundle crun gets from the agent, copied out while the container exists.
  await call('CreateContainer', { container_id: cid, exec_id: cid, OCI: spec });
  const bundle = path.join(work, 'bundle');
  const config = readFileSync(`/proc/${agent.pid}/root/run/kata-containers/${cid}/config.json`);
  await call('RemoveContainer', { container_id: cid, timeout: 10 });
  await run('mkdir', ['-p', bundle]);
  writeFileSync(path.join(bundle, 'config.json'), config);
  const crunRoot = path.join(work, 'crun-root');
  let bareSeq = 0;
  const bareLifecycle = async (): Promise<number> => {
    const t = performance.now();
    await run('nsenter', ['-t', String(agent.pid), '-m', 'crun', `--root=${crunRoot}`, '--cgroup-manager=disabled', 'run', `--bundle=${bundle}`, `bare-${++bareSeq}`]);
    return performance.now() - t;
  };
  // The calls the agent makes, without the agent: crun create, start, delete (--force, as the
  // agent's remove; `true` has exited by then or is killed).
  const stepMs = { create: [] as number[], start: [] as number[], delete: [] as number[] };
  const bareSteps = async (): Promise<void> => {
    const id = `steps-${++bareSeq}`;
    const crun = (...a: string[]) => run('nsenter', ['-t', String(agent.pid), '-m', 'crun', `--root=${crunRoot}`, '--cgroup-manager=disabled', ...a]);
    const t0 = performance.now();
    await crun('create', `--bundle=${bundle}`, id);
    const t1 = performance.now();
    await crun('start', id);
    const t2 = performance.now();
    await crun('delete', '--force', id);
    const t3 = performance.now();
    stepMs.create.push(t1 - t0);
    stepMs.start.push(t2 - t1);
    stepMs.delete.push(t3 - t2);
  };
  for (let i = 0; i < 3; i++) {
    await agentLifecycle();
    await bareLifecycle();
  }
  const agentMs: number[] = [];
  const bareMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // alternate, so that load from elsewhere falls on both alike
    agentMs.push(await agentLifecycle());
    bareMs.push(await bareLifecycle());
    await bareSteps();
  }
  const lifecycleRatio = median(agentMs) / median(bareMs);
  const m = (xs: number[]) => median(xs).toFixed(1);
  console.log(`container lifecycle of busybox true, median of ${rounds} (alternating):`);
  console.log(`  agent create+start+wait (ttRPC over unix socket, crun create/start): ${m(agentMs)} ms`);
  console.log(`    phases: CreateContainer ${m(phases.create)}, StartContainer ${m(phases.start)}, WaitProcess ${m(phases.wait)}; then RemoveContainer ${m(phases.remove)} ms`);
  console.log(`  bare crun run of the same bundle (create+start+wait+delete in one process): ${m(bareMs)} ms`);
  console.log(`  ratio agent/bare: ${lifecycleRatio.toFixed(2)}x (target <= 1.25x)`);
  console.log(`  bare crun create / start / delete --force, one process each (the agent's calls): ${m(stepMs.create)} / ${m(stepMs.start)} / ${m(stepMs.delete)} ms`);
  const ownCalls = median(stepMs.create) + median(stepMs.start);
  console.log(`  agent create+start+wait / bare crun create + crun start: ${(median(agentMs) / ownCalls).toFixed(2)}x (what the agent adds to the crun calls it must make)`);
  const full = agentMs.map((v, i) => v + phases.remove[phases.remove.length - agentMs.length + i]!);
  console.log(`  with RemoveContainer (crun delete) included: ${m(full)} ms, ${(median(full) / median(bareMs)).toFixed(2)}x`);

  // --- 2. ReadStdout throughput ---
  const sid = 'bench-stream';
  agent.addRootfs(sid);
  await call('CreateContainer', { container_id: sid, exec_id: sid, OCI: containerSpec(sid, ['sleep', '1000000']) });
  await call('StartContainer', { container_id: sid });
  // 1 MiB writes: the producer is not the bottleneck (busybox head writes 4 KiB at a time)
  const args = ['dd', 'if=/dev/zero', 'bs=1048576', `count=${values.mb}`];
  let seq = 0;
  const agentRate = async (): Promise<number> => {
    const execId = `stream-${++seq}`;
    await call('ExecProcess', { container_id: sid, exec_id: execId, process: processSpec(args) });
    const t = performance.now();
    let total = 0;
    for (;;) {
      const data = await agent.client.readOutput(sid, execId, 'stdout', 2 * 1024 * 1024);
      if (data === null) break;
      total += data.length;
    }
    const rate = total / ((performance.now() - t) / 1000);
    await call('WaitProcess', { container_id: sid, exec_id: execId });
    await agent.client.readAllOutput(sid, execId, 'stderr');
    if (total !== streamBytes) throw new Error(`read ${total} of ${streamBytes} bytes`);
    return rate;
  };
  const pipeRate = () => plainPipeRate(BUSYBOX, args);

  await agentRate();
  await pipeRate();
  const agentRates: number[] = [];
  const pipeRates: number[] = [];
  for (let i = 0; i < 3; i++) {
    agentRates.push(await agentRate());
    pipeRates.push(await pipeRate());
  }
  const mbps = (r: number) => r / 1024 / 1024;
  console.log(`stdout throughput, ${values.mb} MB from busybox dd bs=1M, median of 3:`);
  console.log(`  agent ReadStdout (2 MiB pulls over ttRPC): ${mbps(median(agentRates)).toFixed(0)} MB/s (target >= 100 MB/s)`);
  console.log(`  plain pipe on the host:                    ${mbps(median(pipeRates)).toFixed(0)} MB/s`);
  console.log(`  ratio agent/pipe: ${(median(agentRates) / median(pipeRates)).toFixed(2)}x`);
  await call('RemoveContainer', { container_id: sid, timeout: 10 });
  await call('DestroySandbox', {});
} finally {
  await agent.stop();
  rmSync(work, { recursive: true, force: true });
}
