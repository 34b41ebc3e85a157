// guest: the VM as a whole: details, clock, entropy, CPUs, swap, volumes, metrics, OOM events,
// policy, diagnostics, file copy into the shared directory.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { type Command, parseCommandArgs, parseCount, printJson, takePositionals, UsageError } from '../command';
import { readSource } from '../inputs';

const details: Command = {
  words: ['guest', 'details'],
  synopsis: '',
  summary: 'GetGuestDetails (memory block size, hotplug probe, agent features) as JSON',
  async run(ctx) {
    takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, []);
    printJson(ctx.io, await ctx.session.requestJson('GetGuestDetails', { mem_block_size: true, mem_hotplug_probe: true }));
    return 0;
  },
};

/** Seconds since the epoch (fractions allowed) or an ISO 8601 date, as whole seconds + microseconds. */
function parseTime(text: string | undefined): { Sec: string; Usec: string } {
  let micros: bigint;
  if (text === undefined) micros = BigInt(Date.now()) * 1000n;
  else if (/^\d+(\.\d{1,6})?$/.test(text)) {
    const [whole, frac = ''] = text.split('.');
    micros = BigInt(whole!) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
  } else {
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) throw new UsageError(`guest time set: "${text}" is neither seconds since the epoch nor an ISO 8601 date`);
    micros = BigInt(ms) * 1000n;
  }
  return { Sec: String(micros / 1_000_000n), Usec: String(micros % 1_000_000n) };
}

const timeSet: Command = {
  words: ['guest', 'time', 'set'],
  synopsis: '[EPOCH_SECONDS|ISO_DATE]',
  summary: "SetGuestDateTime (default: this host's clock now)",
  async run(ctx) {
    const [when] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, [], ['TIME']);
    await ctx.session.request('SetGuestDateTime', parseTime(when));
    return 0;
  },
};

const reseed: Command = {
  words: ['guest', 'reseed'],
  synopsis: '[BYTES]',
  summary: "ReseedRandomDev with BYTES (default 64) of this host's randomness",
  async run(ctx) {
    const [count] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, [], ['BYTES']);
    const n = parseCount(this, 'BYTES', count, 64);
    if (n === 0 || n > 1024 * 1024) throw new UsageError('guest reseed: BYTES is 1 to 1048576');
    await ctx.session.request('ReseedRandomDev', { data: randomBytes(n) });
    return 0;
  },
};

const onlineCpu: Command = {
  words: ['guest', 'online-cpu'],
  synopsis: 'N [--memory]',
  summary: 'OnlineCPUMem: bring N hot-added CPUs online (--memory: hot-added memory too)',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { memory: { type: 'boolean' } });
    const [n] = takePositionals(this, positionals, ['N']);
    await ctx.session.request('OnlineCPUMem', { wait: true, nb_cpus: parseCount(this, 'N', n), cpu_only: values.memory !== true });
    return 0;
  },
};

const swapAdd: Command = {
  words: ['guest', 'swap', 'add'],
  synopsis: 'PCI_PATH',
  summary: 'AddSwap: the hot-plugged virtio-blk disk at PCI_PATH (e.g. 02/00) becomes swap',
  async run(ctx) {
    const [pciPath] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, ['PCI_PATH']);
    // Kata sends the slot of each bus on the way, function 0.
    const slots = pciPath!.split('/').map((s) => {
      if (!/^[0-9a-fA-F]{1,2}$/.test(s) || parseInt(s, 16) > 0x1f) throw new UsageError(`guest swap add: "${pciPath}" is not a PCI path of slots such as 02/00`);
      return parseInt(s, 16);
    });
    await ctx.session.request('AddSwap', { PCIPath: slots });
    return 0;
  },
};

const swapPath: Command = {
  words: ['guest', 'swap-path'],
  synopsis: 'PATH',
  summary: 'AddSwapPath: a file or device in the guest becomes swap',
  async run(ctx) {
    const [file] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, ['PATH']);
    await ctx.session.request('AddSwapPath', { path: file });
    return 0;
  },
};

const volumeStats: Command = {
  words: ['guest', 'volume-stats'],
  synopsis: 'PATH',
  summary: 'GetVolumeStats of a guest mount as JSON',
  async run(ctx) {
    const [volume] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, ['PATH']);
    printJson(ctx.io, await ctx.session.requestJson('GetVolumeStats', { volume_guest_path: volume }));
    return 0;
  },
};

const metrics: Command = {
  words: ['guest', 'metrics'],
  synopsis: '',
  summary: 'GetMetrics: Prometheus text',
  async run(ctx) {
    takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, []);
    const { metrics: text } = await ctx.session.request('GetMetrics');
    ctx.io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    return 0;
  },
};

const oomEvent: Command = {
  words: ['guest', 'oom-event'],
  synopsis: '[--follow]',
  summary: 'GetOOMEvent: waits for an OOM kill and prints the container id (--follow: every one)',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { follow: { type: 'boolean', short: 'f' } });
    takePositionals(this, positionals, []);
    do {
      const { container_id } = await ctx.session.request('GetOOMEvent', {}, { blocking: true });
      ctx.io.stdout(`${container_id}\n`);
    } while (values.follow);
    return 0;
  },
};

const policySet: Command = {
  words: ['guest', 'policy', 'set'],
  synopsis: 'FILE|-',
  summary: "SetPolicy: replace the agent's policy with FILE's text",
  async run(ctx) {
    const [file] = takePositionals(this, parseCommandArgs(this, ctx.argv, {}).positionals, ['FILE']);
    await ctx.session.request('SetPolicy', { policy: (await readSource(file!, ctx.io.stdin)).toString('utf8') });
    return 0;
  },
};

const diagnostics: Command = {
  words: ['guest', 'diagnostics'],
  synopsis: '[--log-type agent|kernel] [--container CID]',
  summary: "GetDiagnosticData: the agent's recent log lines or the kernel log",
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { 'log-type': { type: 'string' }, container: { type: 'string' } });
    takePositionals(this, positionals, []);
    const { data } = await ctx.session.request('GetDiagnosticData', { log_type: values['log-type'] ?? '', container_id: values.container ?? '' });
    ctx.io.stdout(data.endsWith('\n') || data === '' ? data : `${data}\n`);
    return 0;
  },
};

/** CopyFile messages stay well under ttRPC's 4 MiB limit. */
const COPY_CHUNK = 1024 * 1024;

const copyFile: Command = {
  words: ['guest', 'copy-file'],
  synopsis: 'HOST_FILE GUEST_PATH [--mode OCTAL] [--uid N] [--gid N]',
  summary: 'CopyFile in chunks (GUEST_PATH must be under /run/kata-containers/shared/containers/)',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, { mode: { type: 'string' }, uid: { type: 'string' }, gid: { type: 'string' } });
    const [hostFile, guestPath] = takePositionals(this, positionals, ['HOST_FILE', 'GUEST_PATH']);
    let data: Buffer;
    let mode: number;
    try {
      data = readFileSync(hostFile!);
      mode = statSync(hostFile!).mode;
    } catch (err) {
      throw new UsageError(`guest copy-file: read ${hostFile}: ${(err as Error).message}`);
    }
    if (values.mode !== undefined) {
      if (!/^[0-7]{3,4}$/.test(values.mode)) throw new UsageError(`guest copy-file: --mode is octal such as 644, not "${values.mode}"`);
      mode = (mode & ~0o7777) | parseInt(values.mode, 8);
    }
    const base = {
      path: guestPath,
      file_size: String(data.length),
      file_mode: mode,
      dir_mode: 0o755,
      // -1: leave the owner the agent gives it.
      uid: values.uid === undefined ? -1 : parseCount(this, '--uid', values.uid),
      gid: values.gid === undefined ? -1 : parseCount(this, '--gid', values.gid),
    };
    let offset = 0;
    do {
      const chunk = data.subarray(offset, offset + COPY_CHUNK);
      await ctx.session.request('CopyFile', { ...base, offset: String(offset), data: chunk });
      offset += chunk.length;
    } while (offset < data.length);
    return 0;
  },
};

export const guestCommands: Command[] = [details, timeSet, reseed, onlineCpu, swapAdd, swapPath, volumeStats, metrics, oomEvent, policySet, diagnostics, copyFile];
