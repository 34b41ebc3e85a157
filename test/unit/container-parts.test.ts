// Small pieces of the container area on their own: the per-container lock, the pull reader
// over a real socket pair, cgroup file parsing, OOM events from a memory.events file, and
// CopyFile's confinement in a temporary root.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, readFileSync, writeFileSync, writeSync, appendFileSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { confinedPath, copyFile } from '../../agent/src/container/copy-file';
import { OomEvents } from '../../agent/src/container/oom-events';
import { EndOfOutput, OutputStream } from '../../agent/src/container/output-stream';
import { RwLock } from '../../agent/src/container/rw-lock';
import { createStdioPipes } from '../../agent/src/container/stdio-pipes';
import { cgroupStats, networkStats, parseFlatKeyed } from '../../agent/src/container/stats';
import { Logger } from '../../agent/src/log/logger';
import { loadKernelModule } from '../../agent/src/sandbox/kernel-modules';
import { Code } from '../../agent/src/ttrpc/status';

describe('RwLock', () => {
  it('runs shared holders together, an exclusive one alone and in arrival order', async () => {
    const lock = new RwLock();
    const events: string[] = [];
    let releaseA!: () => void;
    const a = lock.shared(() => new Promise<void>((r) => { events.push('a-in'); releaseA = () => { events.push('a-out'); r(); }; }));
    const b = lock.shared(async () => void events.push('b'));
    const w = lock.exclusive(async () => void events.push('w'));
    const c = lock.shared(async () => void events.push('c'));
    await b;
    expect(events).toEqual(['a-in', 'b']); // b ran beside a; w waits for a; c waits behind w
    releaseA();
    await Promise.all([a, w, c]);
    expect(events).toEqual(['a-in', 'b', 'a-out', 'w', 'c']);
  });
});

describe('OutputStream', () => {
  it('pulls up to len, waits for data, keeps the rest, and reports EOF as an error, never as an empty reply', async () => {
    const child = spawn('sh', ['-c', 'printf 0123456789; read x; printf "$x"'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const out = new OutputStream(child.stdout!);
    expect((await out.read(4, 'out')).toString()).toBe('0123');
    expect((await out.read(100, 'out')).toString()).toBe('456789');
    const pending = out.read(100, 'out'); // nothing there yet: waits
    child.stdin!.end('late\n');
    expect((await pending).toString()).toBe('late');
    await expect(out.read(100, 'stdout of sh')).rejects.toThrow(new EndOfOutput('stdout of sh'));
    expect(out.drained).toBe(true);
    // Every later read says the same (a runtime may ask again after the end).
    await expect(out.read(100, 'stdout of sh')).rejects.toBeInstanceOf(EndOfOutput);
  });

  it('serves concurrent reads in order without losing bytes; reads past the end fail with EndOfOutput', async () => {
    const child = spawn('sh', ['-c', 'seq 1 50000'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const out = new OutputStream(child.stdout!);
    // 400 x 1000 bytes is more than seq writes (288,894 bytes): the last reads meet the end.
    const settled = await Promise.allSettled(Array.from({ length: 400 }, () => out.read(1000, 'seq')));
    const firstEnd = settled.findIndex((r) => r.status === 'rejected');
    expect(firstEnd).toBeGreaterThan(0);
    for (const r of settled.slice(firstEnd)) expect(r.status === 'rejected' && r.reason instanceof EndOfOutput).toBe(true);
    const parts = settled.slice(0, firstEnd).map((r) => (r as PromiseFulfilledResult<Buffer>).value);
    const text = parts.map((p) => p.toString()).join('');
    expect(text).toBe(Array.from({ length: 50000 }, (_, i) => `${i + 1}\n`).join(''));
  });
});

describe('OutputStream over the stdio pipes', () => {
  it('takes output up to its bound with no read pending, also when the pipe socket had stopped at its default mark before (a process that writes much, then is waited for first)', async () => {
    const pipes = createStdioPipes(0);
    const piped = pipes.open(); // as launch() does before crun exec returns: reading starts at net.Socket's default mark
    const childStdout = pipes.childFds[1];
    const until = async (what: string, ok: () => boolean): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`not ${what} within 5 s (buffered ${piped.stdout.readableLength} bytes)`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    writeSync(childStdout, Buffer.alloc(40 * 1024, 'a'));
    await until('40 KiB buffered', () => piped.stdout.readableLength >= 40 * 1024); // past its mark: the socket stops reading
    writeSync(childStdout, Buffer.alloc(30 * 1024, 'b')); // stays in the pipe for now
    const out = new OutputStream(piped.stdout);
    // Nobody reads yet (WaitProcess before ReadStdout): the stream must go on taking the pipe's
    // bytes, or a process writing more than the pipe holds blocks and never exits.
    await until('70 KiB buffered', () => piped.stdout.readableLength === 70 * 1024);
    closeSync(childStdout);
    pipes.closeChildEnds();
    let total = 0;
    for (;;) {
      try {
        total += (await out.read(1 << 20, 'stdout')).length;
      } catch (err) {
        expect(err).toBeInstanceOf(EndOfOutput);
        break;
      }
    }
    expect(total).toBe(70 * 1024);
    piped.stdin.destroy();
    piped.stderr.destroy();
  });
});

describe('cgroup v2 stats', () => {
  it('reads cpu, memory, pids and io files, with "max" as 0 and missing files as zero', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'cg-'));
    const dir = path.join(root, 'pod/c1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n');
    writeFileSync(path.join(dir, 'memory.current'), '4096\n');
    writeFileSync(path.join(dir, 'memory.max'), 'max\n');
    writeFileSync(path.join(dir, 'memory.stat'), 'anon 100\nfile 200\nkernel 50\n');
    writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    writeFileSync(path.join(dir, 'pids.current'), '7\n');
    writeFileSync(path.join(dir, 'pids.max'), '100\n');
    writeFileSync(path.join(dir, 'io.stat'), '254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n');
    const s = await cgroupStats(root, '/pod/c1');
    expect(s.cpu_stats!.cpu_usage).toMatchObject({ total_usage: '1500000', usage_in_usermode: '1000000', usage_in_kernelmode: '500000' });
    expect(s.cpu_stats!.throttling_data).toEqual({ periods: '4', throttled_periods: '1', throttled_time: '20000' });
    expect(s.memory_stats!.usage).toEqual({ usage: '4096', max_usage: '0', failcnt: '3', limit: '0' });
    expect(s.memory_stats!.cache).toBe('200');
    expect(s.memory_stats!.stats).toEqual({ anon: '100', file: '200', kernel: '50' });
    expect(s.pids_stats).toEqual({ current: '7', limit: '100' });
    expect(s.blkio_stats!.io_service_bytes_recursive).toEqual([
      { major: '254', minor: '0', op: 'Read', value: '4096' },
      { major: '254', minor: '0', op: 'Write', value: '8192' },
    ]);
    const none = await cgroupStats(root, '/no/such');
    expect(none.pids_stats).toEqual({ current: '0', limit: '0' });
    expect(parseFlatKeyed('a 18446744073709551615\n').get('a')).toBe(18446744073709551615n);
  });

  it('reads interface counters from /proc/net/dev', async () => {
    const stats = await networkStats();
    const lo = stats.find((s) => s.name === 'lo');
    expect(lo).toBeDefined();
    expect(Number(lo!.rx_bytes)).toBeGreaterThanOrEqual(0);
  });
});

describe('OOM events', () => {
  it('reports a container when oom_kill rises in its memory.events, long-poll style', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'oom-'));
    mkdirSync(path.join(root, 'c1'));
    const file = path.join(root, 'c1/memory.events');
    writeFileSync(file, 'oom 0\noom_kill 0\n');
    const oom = new OomEvents(root, Logger.create('error'));
    await oom.watchContainer('c1', '/c1');
    const next = oom.next();
    writeFileSync(file, 'oom 1\noom_kill 1\n');
    expect(await next).toBe('c1');
    // a change that is not an OOM kill is not reported; a cancelled poll rejects
    appendFileSync(file, '');
    const ac = new AbortController();
    const cancelled = oom.next(ac.signal);
    ac.abort(new Error('client went away'));
    await expect(cancelled).rejects.toThrow('client went away');
    oom.close();
  });
});

describe('CopyFile confinement', () => {
  it('accepts paths strictly inside the root only', () => {
    const root = '/run/kata-containers/shared/containers';
    expect(confinedPath(`${root}/a/b`)).toBe(`${root}/a/b`);
    for (const bad of [root, `${root}/../x`, '/etc/passwd', 'a/b', `${root}x/y`]) {
      expect(() => confinedPath(bad)).toThrow(expect.objectContaining({ code: Code.PERMISSION_DENIED }));
    }
  });

  it('refuses to write through a symlink placed on the way', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'copy-'));
    const outside = mkdtempSync(path.join(tmpdir(), 'outside-'));
    symlinkSync(outside, path.join(root, 'link'));
    const req = { path: `${root}/link/f`, file_size: '1', file_mode: 0o100644, dir_mode: 0o755, uid: -1, gid: -1, offset: '0', data: Buffer.from('x') };
    await expect(copyFile(req, root)).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    await copyFile({ ...req, path: `${root}/ok/f` }, root);
    expect(readFileSync(`${root}/ok/f`, 'utf8')).toBe('x');
  });
});

describe('CopyFile modes as Kata runtimes send them', () => {
  it("takes runtime-go's dir_mode (Go's os.ModeDir|0750: 0x800001e8) and runtime-rs's (S_IFDIR|0750) as 0750", async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'copy-modes-'));
    // What runtime-go 3.19-3.29 sends for a container's /etc/hosts: DirMode = os.FileMode(0750) | os.ModeDir, FileMode = stat's st_mode.
    const hosts = { path: `${root}/c1-hosts/hosts`, file_size: '10', file_mode: 0o100644, dir_mode: 0x800001e8, uid: 0, gid: 0, offset: '0', data: Buffer.from('127.0.0.1\n') };
    await copyFile(hosts, root);
    expect(readFileSync(hosts.path, 'utf8')).toBe('127.0.0.1\n');
    expect(statSync(`${root}/c1-hosts`).mode & 0o7777).toBe(0o750);
    expect(statSync(hosts.path).mode & 0o7777).toBe(0o644);
    await copyFile({ ...hosts, path: `${root}/rs/hosts`, dir_mode: 0o040750 }, root);
    expect(statSync(`${root}/rs`).mode & 0o7777).toBe(0o750);
    // A type that is not a directory for dir_mode, or a number that is not a uint32, is refused.
    await expect(copyFile({ ...hosts, path: `${root}/x/hosts`, dir_mode: 0o100750 }, root)).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(copyFile({ ...hosts, path: `${root}/x/hosts`, dir_mode: 2 ** 32 }, root)).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
  });
});

describe('CreateSandbox kernel_modules', () => {
  it('says clearly when modprobe is missing, the module is unknown, or the name is not a module name', async () => {
    await expect(loadKernelModule({ name: 'dummy', parameters: [] }, '/nonexistent/modprobe')).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: 'load kernel module dummy: /nonexistent/modprobe is not installed in the guest',
    });
    await expect(loadKernelModule({ name: '../evil', parameters: [] })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(loadKernelModule({ name: 'kata_no_such_module_x', parameters: ['a=1'] })).rejects.toMatchObject({
      code: Code.INTERNAL,
      message: expect.stringContaining('load kernel module kata_no_such_module_x: modprobe failed'),
    });
  });
});
