// Kata's own shim runs pods on our image: containerd -> containerd-shim-kata-v2 (each release in
// KATA_SHIM) -> Kata's remote hypervisor type -> our remote-hypervisor service -> a VM of our
// kernel and image under QEMU, rootfs over virtio-fs with a real virtiofsd -> our agent. Every
// case asserts what ctr prints and returns, and that the pod leaves nothing behind.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pty from 'node-pty';
import { skipUnlessAvailable } from '../helpers/requirement';
import { agentImageFixture } from '../vm/agent-guest';
import { KERNEL_BUILD_TIMEOUT_MS, testKernel } from '../vm/vm-fixture';
import { type CtrResult, IMAGE, KataStack, kataShims, kataStackMissingReason } from './kata-stack';

const missing = kataStackMissingReason();
// Outside CI a missing shim skips with the reason; in CI (.ci/run passes Kata's shims) it fails.
const skip = skipUnlessAvailable(missing);

const POD_MS = 180_000;
/** One step inside a running pod (an exec, a kill): far more than it takes, far less than POD_MS. */
const STEP_MS = 30_000;
const RUN = Date.now().toString(36).slice(-5);
let stack: KataStack;
let disposeImage: (() => Promise<void>) | undefined;

/** The shim's release, as it prints it (e.g. "3.19.1"). */
function shimRelease(shim: string): string {
  const text = execFileSync(shim, ['--version'], { encoding: 'utf8' });
  return /\b(\d+\.\d+\.\d+)\b/.exec(text)?.[1] ?? text.trim();
}

/**
 * Runs `body`; on failure the error carries the ctr calls, the shim's log and the guest console
 * of `id`. A body still running after `budgetMs` fails here, before vitest's own timeout would
 * end the test with no word of where it stood.
 */
async function withDiagnostics<T>(id: string, body: () => Promise<T>, budgetMs = POD_MS - 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const overBudget = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${id}: not done within ${budgetMs} ms`)), budgetMs);
  });
  try {
    return await Promise.race([body(), overBudget]);
  } catch (err) {
    if (err instanceof Error) err.message += stack.diagnostics(id);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function expectNothingLeft(id: string): Promise<void> {
  expect(await stack.leftovers(id)).toEqual([]);
}

function expectRun(r: CtrResult, code: number, stdout?: string): void {
  expect({ code: r.code, stdout: stdout === undefined ? undefined : r.stdout.toString() }, r.stderr).toEqual({ code, stdout });
}

/** Waits until `ctr task ls` shows the task in `status`. */
async function taskStatus(id: string, status: string, timeoutMs = POD_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ls = await stack.ctr(['task', 'ls']);
    if (new RegExp(`^${id}\\s+\\d+\\s+${status}\\b`, 'm').test(ls.stdout.toString())) return;
    if (Date.now() > deadline) throw new Error(`task ${id} not ${status}: ${ls.stdout}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A pod left running (ctr run -d), removed after its test. */
async function withRunningPod(shim: string, id: string, command: string[], body: () => Promise<void>, flags: string[] = []): Promise<void> {
  await withDiagnostics(id, async () => {
    // No IO for the pod's own process: a detached ctr would close its stdin, and ctr and the
    // shim deadlock on CloseIO (see README's Kata section); the execs bring their own.
    const started = await stack.ctr(['run', '-d', '--null-io', '--runtime', shim, '--runtime-config-path', stack.configPath, ...flags, IMAGE, id, ...command], { timeoutMs: POD_MS });
    expect(started.code, started.stderr).toBe(0);
    try {
      await taskStatus(id, 'RUNNING');
      await body();
    } finally {
      await stack.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await stack.ctr(['task', 'delete', '--force', id], { timeoutMs: POD_MS });
      await stack.ctr(['container', 'delete', id]);
    }
  });
  await expectNothingLeft(id);
}

/** `ctr ... exec -t` needs a terminal: node-pty gives it one of a known size. */
function ctrOnTerminal(args: string[], cols = 101, rows = 33, timeoutMs = STEP_MS): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const term = pty.spawn('ctr', ['--address', stack.ctdSocket, ...args], { cols, rows, name: 'xterm' });
    let output = '';
    const timer = setTimeout(() => {
      output += `\n(ctr ${args.slice(0, 3).join(' ')} on a terminal killed: no end within ${timeoutMs} ms)`;
      term.kill('SIGKILL');
    }, timeoutMs);
    term.onData((d) => (output += d));
    term.onExit(({ exitCode }) => {
      clearTimeout(timer);
      resolve({ code: exitCode, output });
    });
  });
}

describe.skipIf(skip)('Kata shim end to end', () => {
  beforeAll(async () => {
    const kernel = await testKernel();
    const fixture = await agentImageFixture();
    disposeImage = fixture.dispose;
    stack = await KataStack.start(kernel.vmlinux, fixture.image);
  }, KERNEL_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await stack?.stop();
    await disposeImage?.();
  });

  for (const shim of kataShims()) {
    const release = missing ? shim : shimRelease(shim);
    // Unique per run: Kata keeps a sandbox's state under /run/vc by id, and an earlier run that
    // was killed may have left some.
    const tag = `${release.replace(/\W/g, '')}-${RUN}`;
    describe(`containerd-shim-kata-v2 ${release}`, () => {
      it('ctr run: output and exit code 0, then exit code 3', async () => {
        const id = `run0-${tag}`;
        await withDiagnostics(id, async () => expectRun(await stack.ctrRun(shim, id, ['sh', '-c', 'echo hello from $(uname -r)']), 0, `hello from ${(await stack.ctrRun(shim, `${id}b`, ['uname', '-r'])).stdout.toString().trim()}\n`));
        const id3 = `run3-${tag}`;
        await withDiagnostics(id3, async () => expectRun(await stack.ctrRun(shim, id3, ['sh', '-c', 'echo out; echo err >&2; exit 3']), 3, 'out\n'));
        await expectNothingLeft(id);
        await expectNothingLeft(id3);
      }, POD_MS);

      it('ctr run: 1 MiB of output, byte-exact, then the end (no busy loop on EOF)', async () => {
        const id = `big-${tag}`;
        const line = 'abcdefghijklmnopqrstuvwxy\n';
        const expected = Buffer.from(line.repeat(Math.ceil((1 << 20) / line.length))).subarray(0, 1 << 20);
        // One stream far bigger than a pipe (64 KiB), ending mid-line.
        const script = 'yes abcdefghijklmnopqrstuvwxy | head -c 1048576';
        const r = await withDiagnostics(id, () => stack.ctrRun(shim, id, ['sh', '-c', script]));
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.length).toBe(expected.length);
        expect(r.stdout.equals(expected)).toBe(true);
        await expectNothingLeft(id);
      }, POD_MS);

      it('ctr run: stdin reaches the container', async () => {
        const id = `stdin-${tag}`;
        // stdin stays open (ctr and the shim deadlock on CloseIO otherwise); the process ends after one line.
        const r = await withDiagnostics(id, () => stack.ctrRun(shim, id, ['sh', '-c', 'read line; echo "got: $line"'], { input: 'typed line\n' }));
        expectRun(r, 0, 'got: typed line\n');
        await expectNothingLeft(id);
      }, POD_MS);

      it('a host file bind-mounted into the container arrives (the shim copies it with CopyFile beside the read-only share)', async () => {
        const id = `mount-${tag}`;
        const hostFile = stack.writeHostFile(`hosts-${id}`, `127.0.0.1 localhost\n10.1.2.3 from-the-host-${id}\n`);
        const r = await withDiagnostics(id, () => stack.ctrRun(shim, id, ['cat', '/etc/hosts'], { flags: ['--mount', `type=bind,src=${hostFile},dst=/etc/hosts,options=rbind:ro`] }));
        expectRun(r, 0, `127.0.0.1 localhost\n10.1.2.3 from-the-host-${id}\n`);
        await expectNothingLeft(id);
      }, POD_MS);

      it('a pod of two containers, as Kubernetes makes them: the second joins the first one\'s VM (CRI annotations) and runs from its own image rootfs', async () => {
        const podId = `pod-${tag}`;
        const appId = `app-${tag}`;
        const cri = (type: string) => ['--annotation', `io.kubernetes.cri.container-type=${type}`, '--annotation', `io.kubernetes.cri.sandbox-id=${podId}`];
        await withRunningPod(shim, podId, ['sleep', '100000'], async () => {
          const app = await withDiagnostics(podId, () => stack.ctrRun(shim, appId, ['sh', '-c', 'echo from-the-app > /app-file; cat /app-file; exit 7'], { flags: cri('container') }));
          expectRun(app, 7, 'from-the-app\n');
          // One VM for the pod: the app's container ran inside the pod's, on a rootfs of its own.
          expect(stack.service.sandboxIds).toContain(podId);
          expect(stack.service.sandboxIds).not.toContain(appId);
          const inPod = await stack.ctr(['task', 'exec', '--exec-id', 'look', podId, 'sh', '-c', 'test -e /app-file; echo "app-file:$?"'], { timeoutMs: STEP_MS });
          expectRun(inPod, 0, 'app-file:1\n');
          await expectNothingLeft(appId);
        }, cri('sandbox'));
      }, POD_MS);

      it('ctr task exec without and with --tty; stdin to an exec', async () => {
        const id = `exec-${tag}`;
        await withRunningPod(shim, id, ['sleep', '100000'], async () => {
          const plain = await stack.ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo exec-out; echo exec-err >&2; exit 5'], { timeoutMs: STEP_MS });
          expect({ code: plain.code, out: plain.stdout.toString(), err: plain.stderr }).toEqual({ code: 5, out: 'exec-out\n', err: 'exec-err\n' });
          const input = await stack.ctr(['task', 'exec', '--exec-id', 'e2', id, 'sh', '-c', 'read x; echo "got:$x"'], { input: 'piped\n', timeoutMs: STEP_MS });
          expectRun(input, 0, 'got:piped\n');
          // ctr sends the terminal's size (ResizePty -> TtyWinResize) only after the exec started:
          // the process waits until its terminal has ours (busybox's stty size exits 0 even for a
          // terminal of no size when its output is not a terminal, so the value is compared); a
          // size that never comes ends in the step's timeout.
          const tty = await ctrOnTerminal(['task', 'exec', '-t', '--exec-id', 'e3', id, 'sh', '-c', "tty; until stty size 2>/dev/null | grep -qx '33 101'; do sleep 0.1; done; stty size; exit 4"]);
          expect(tty.code).toBe(4);
          expect(tty.output).toMatch(/\/dev\/pts\/\d+\r*\n33 101\r*\n/);
        });
      }, POD_MS);

      it('ctr task kill: SIGTERM to an init that handles it, SIGTERM to one that ignores it, SIGKILL; the status ctr reports', async () => {
        const cases: Array<[string, string[], string, number]> = [
          [`term-trap-${tag}`, ['sh', '-c', 'trap "exit 42" TERM; echo up; while :; do sleep 1; done'], 'SIGTERM', 42],
          // pid 1 of its namespace without a handler ignores SIGTERM: the agent makes it SIGKILL, as Kata's does.
          [`term-sleep-${tag}`, ['sleep', '100000'], 'SIGTERM', 137],
          [`kill-${tag}`, ['sleep', '100000'], 'SIGKILL', 137],
        ];
        for (const [id, command, signal, status] of cases) {
          await withDiagnostics(id, async () => {
            // The trap is set once "up" is printed; the others are ready once RUNNING.
            let up!: () => void;
            const printedUp = new Promise<void>((r) => (up = r));
            const running = stack.ctrRun(shim, id, command, { onStdout: (soFar) => soFar.includes('up\n') && up() });
            await taskStatus(id, 'RUNNING');
            if (status === 42) await Promise.race([printedUp, running.then((r) => Promise.reject(new Error(`ctr run ended before "up": ${r.code} ${r.stderr}`)))]);
            const kill = await stack.ctr(['task', 'kill', '-s', signal, id], { timeoutMs: STEP_MS });
            expect(kill.code, kill.stderr).toBe(0);
            expect((await running).code).toBe(status);
          });
          await expectNothingLeft(id);
        }
      }, 3 * POD_MS);

      it('loads our QEMU configuration (image-builder kata-config --qemu): it parses and finds our kernel and image', async () => {
        const run = (config: string, id: string) => stack.ctr(['run', '--rm', '--runtime', shim, '--runtime-config-path', config, IMAGE, id, 'true'], { timeoutMs: POD_MS });
        const good = await run(stack.qemuConfigPath, `qemu-${tag}`);
        // Here the shim stops only at the host's missing vhost-vsock, past its checks of our assets;
        // on a host with vhost-vsock and KVM the pod runs.
        if (existsSync('/dev/vhost-vsock')) expect(good.code, good.stderr).toBe(0);
        else expect(good.stderr).toMatch(/host system doesn't support vsock: stat \/dev\/vhost-vsock/);
        expect(good.stderr).not.toMatch(/does not exist/);
        // The same file naming an image that is not there fails on that image: the shim did read it.
        const bad = await run(stack.writeQemuConfig({ image: '/nonexistent/rootfs.img' }), `qemu-bad-${tag}`);
        expect(bad.code).not.toBe(0);
        expect(bad.stderr).toContain('file /nonexistent/rootfs.img does not exist');
        await expectNothingLeft(`qemu-${tag}`);
      }, POD_MS);

      it('ctr task metrics reads StatsContainer; pause and resume', async () => {
        const id = `stats-${tag}`;
        // A counter, replaced by rename so that a reader never sees it half-written.
        const counter = 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.2; done';
        await withRunningPod(shim, id, ['sh', '-c', counter], async () => {
          const metrics = await stack.ctr(['task', 'metrics', id]);
          expect(metrics.code, metrics.stderr).toBe(0);
          const text = metrics.stdout.toString();
          expect(Number(/memory\.usage_in_bytes\s+(\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
          expect(Number(/cpuacct\.usage\s+(\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
          expect(Number(/pids\.current\s+(\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(1);

          expect((await stack.ctr(['task', 'pause', id])).code).toBe(0);
          await taskStatus(id, 'PAUSED', 30_000);
          expect((await stack.ctr(['task', 'resume', id])).code).toBe(0);
          await taskStatus(id, 'RUNNING', 30_000);
          // Running again: execs get answered, and the counter moves on.
          const readCounter = async (execId: string): Promise<number> => {
            const r = await stack.ctr(['task', 'exec', '--exec-id', execId, id, 'cat', '/tmp/n'], { timeoutMs: STEP_MS });
            expect({ code: r.code, stdout: r.stdout.toString() }, r.stderr).toEqual({ code: 0, stdout: expect.stringMatching(/^\d+\n$/) });
            return Number(r.stdout.toString());
          };
          const first = await readCounter('after-0');
          const deadline = Date.now() + STEP_MS;
          let n = 1;
          while ((await readCounter(`after-${n}`)) <= first) {
            expect(Date.now(), `the counter stayed at ${first} after resume`).toBeLessThan(deadline);
            n += 1;
          }
        });
      }, POD_MS);
    });
  }
});
