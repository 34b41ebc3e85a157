// Scenarios of storage-stalled-mount.test.ts: mounts whose filesystem server stops answering (a
// FUSE filesystem served by this process, test/helpers/stalling-fuse.ts), run as root inside
// `unshare -m --propagation private` so every mount dies with the namespace. Prints one JSON line.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Logger } from '../../agent/src/log/logger';
import { statfs } from '../../agent/src/native';
import { abandonedMount, mountStorage, type MountRequest } from '../../agent/src/storage/mount-storage';
import { TtrpcClient, TtrpcServer } from '../../agent/src/ttrpc';
import { Code, RpcError } from '../../agent/src/ttrpc/status';
import { StallingFuse } from '../helpers/stalling-fuse';

const log = Logger.create('critical', []);
const SERVICE = 'test.Storage';

function mounted(target: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === target);
}

function failure(err: unknown): { code: number | string; message: string } {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  return { code: (err as NodeJS.ErrnoException).code ?? -1, message: (err as Error).message };
}

async function settled(p: Promise<unknown>): Promise<{ code: number | string; message: string } | 'ok'> {
  return p.then(
    () => 'ok' as const,
    (err: unknown) => failure(err),
  );
}

/** Counts event-loop turns (setImmediate) and timer firings (setTimeout 0) until stopped. */
function loopCounter(): { turns: number; timers: number; stop(): void } {
  const c = { turns: 0, timers: 0, stopped: false, stop: () => (c.stopped = true) };
  const turn = (): void => {
    c.turns++;
    if (!c.stopped) setImmediate(turn);
  };
  const timer = (): void => {
    c.timers++;
    if (!c.stopped) setTimeout(timer, 0);
  };
  setImmediate(turn);
  setTimeout(timer, 0);
  return c;
}

/** Resolves at the first turn of the loop where `predicate` holds (checked every turn). */
function untilTrue(predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => (predicate() ? resolve() : void setImmediate(check));
    check();
  });
}

// A FUSE share at <dir>/share whose symlink x -> y is read once (the bind source check), then
// held: the mount(2) of <share>/x is stuck in the kernel until the test answers or closes.
async function stalledShare(dir: string): Promise<StallingFuse> {
  const share = path.join(dir, 'share');
  mkdirSync(share);
  const fuse = StallingFuse.mount(share);
  fuse.holdReadlinksAfter(1);
  return fuse;
}

function bindRequest(fuse: StallingFuse, mountPoint: string): MountRequest {
  return { driver: 'bind', source: path.join(fuse.mountPoint, 'x'), fstype: '', options: ['bind'], mountPoint };
}

const scenarios: Record<string, (dir: string) => Promise<unknown>> = {
  // A call with a ttRPC deadline whose mount(2) hangs: other calls and the event loop go on, the
  // call gets DEADLINE_EXCEEDED at its deadline, and once the server goes away nothing is left.
  async 'deadline-then-server-gone'(dir) {
    const fuse = await stalledShare(dir);
    const target = path.join(dir, 'run/storage/target');
    let handlerSettled: Promise<ReturnType<typeof failure> | 'ok'> | undefined;
    let handlerRejectedAt = 0;
    const server = new TtrpcServer();
    server.registry.register(SERVICE, 'Mount', {
      kind: 'unary',
      handler: async (_payload, ctx) => {
        const attempt = mountStorage(bindRequest(fuse, target), log, ctx.signal);
        handlerSettled = settled(attempt).finally(() => (handlerRejectedAt = Date.now()));
        await attempt;
        return Buffer.alloc(0);
      },
    });
    server.registry.register(SERVICE, 'Ping', { kind: 'unary', handler: async () => Buffer.from('pong') });
    const address = `unix://${path.join(dir, 'ttrpc.sock')}`;
    await server.listen(address);
    const client = await TtrpcClient.connect(address);

    const deadlineMs = 400;
    const callStarted = Date.now();
    const call = settled(client.call(SERVICE, 'Mount', Buffer.alloc(0), { timeoutMs: deadlineMs }));
    await fuse.until(() => fuse.held.length === 1);
    const stuck = fuse.held[0]!;
    // FUSE names the thread (tid) that made the request: one of ours, not the JS thread, and
    // /proc says which syscall it is in.
    const stuckOnOtherThread = stuck.pid !== process.pid && existsSync(`/proc/self/task/${stuck.pid}`);
    const stuckInSyscall = Number(readFileSync(`/proc/self/task/${stuck.pid}/syscall`, 'utf8').split(' ')[0]);

    // While mount(2) waits in the kernel: the loop turns, timers fire, other calls are answered.
    const loop = loopCounter();
    let pings = 0;
    while (pings < 20) {
      if ((await client.call(SERVICE, 'Ping', Buffer.alloc(0), { timeoutMs: 5000 })).toString() === 'pong') pings++;
    }
    await untilTrue(() => loop.turns >= 500 && loop.timers >= 20);
    loop.stop();
    const whileStuck = { turns: loop.turns, timers: loop.timers, pings, stillHeld: fuse.held.length };

    const reply = await call;
    const replyAfterMs = Date.now() - callStarted;
    const handler = await handlerSettled!;
    const handlerAfterMs = handlerRejectedAt - callStarted;
    const pendingAfterDeadline = abandonedMount(target) !== undefined && fuse.held.length === 1;

    // A new mount there while the old one is stuck waits for it, bounded by its own deadline.
    const retry = await settled(mountStorage(bindRequest(fuse, target), log, AbortSignal.timeout(100)));

    fuse.close(); // the server goes away: the stuck mount(2) fails (ENOTCONN)
    await abandonedMount(target);
    const result = {
      stuckOnOtherThread,
      stuckInSyscall,
      whileStuck,
      reply,
      replyAfterMs,
      handler,
      handlerAfterMs,
      pendingAfterDeadline,
      retry,
      mountedAfter: mounted(target),
      targetLeft: existsSync(target),
      createdParentLeft: existsSync(path.join(dir, 'run')),
      abandonedAfter: abandonedMount(target) !== undefined,
    };
    client.close();
    await server.close();
    return result;
  },

  // The stuck mount(2) succeeds after its call gave up: it is detached at once, nothing stays.
  async 'deadline-then-late-success'(dir) {
    const fuse = await stalledShare(dir);
    const target = path.join(dir, 'target');
    const abort = new AbortController();
    const attempt = settled(mountStorage(bindRequest(fuse, target), log, abort.signal));
    await fuse.until(() => fuse.held.length === 1);
    const abortedAt = Date.now();
    abort.abort(new RpcError(Code.DEADLINE_EXCEEDED, 'Mount: deadline of 300 ms exceeded')); // what the ttRPC server aborts with
    const rejected = await attempt;
    const rejectedAfterMs = Date.now() - abortedAt;
    const stillStuck = fuse.held.length === 1 && abandonedMount(target) !== undefined;

    fuse.release(); // the server answers after all: mount(2) completes
    await abandonedMount(target);
    const result = {
      rejected,
      rejectedAfterMs,
      stillStuck,
      mountCompleted: fuse.held.length === 0,
      mountedAfter: mounted(target),
      targetLeft: existsSync(target),
    };
    fuse.close();
    return result;
  },

  // More stuck mounts than libuv has threadpool threads (4): Node's own fs calls still complete,
  // because each blocking call has a thread of its own.
  async 'threadpool-spared'(dir) {
    const fuse = await stalledShare(dir);
    fuse.holdReadlinksAfter(0); // every walk through x hangs, the bind source check's included
    const targets = Array.from({ length: 6 }, (_, i) => path.join(dir, `t${i}`));
    const attempts = targets.map((t) => settled(mountStorage(bindRequest(fuse, t), log)));
    await fuse.until(() => fuse.held.length === targets.length);
    const fsCalls = await Promise.all([...Array.from({ length: 8 }, () => stat('/')), readFile('/proc/self/mountinfo'), statfs('/')]);
    const threadsWhileStuck = new Set(fuse.held.map((r) => r.pid).filter((pid) => pid !== process.pid && existsSync(`/proc/self/task/${pid}`))).size;
    fuse.close();
    const results = await Promise.all(attempts);
    return { fsCallsDone: fsCalls.length, threadsWhileStuck, results, anyMounted: targets.some(mounted), anyLeft: targets.some((t) => existsSync(t)) };
  },
};

const [name, dir] = process.argv.slice(2);
const scenario = name ? scenarios[name] : undefined;
if (!scenario || !dir) {
  process.stderr.write(`usage: stalled-mount-ns-runner <${Object.keys(scenarios).join('|')}> <dir>\n`);
  process.exit(2);
}
scenario(dir).then(
  (result) => process.stdout.write(`${JSON.stringify({ result })}\n`),
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: failure(err) })}\n`);
    process.exitCode = 1;
  },
);
