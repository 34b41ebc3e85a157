// Shared setup for VM tests of the agent as PID 1: our rootfs with the agent as init packed as a
// DAX image, a TCG boot that waits for the agent's ready line, and shell lines run on the debug
// console with their exit status read back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildImage } from '../../image-builder/src/image';
import type { KernelArtifacts } from '../../image-builder/src/kernel';
import { bootVm, type BootMedia, type BootOptions, type VmHandle } from '../../image-builder/src/qemu';
import { buildRootfs } from '../../image-builder/src/rootfs/build-rootfs';

/** vsock for a Kata host, plus the virtio-serial port this machine's QEMU offers (no vhost-vsock). */
export const AGENT_SERVER_ADDR = 'agent.server_addr=vsock://-1:1024,serial:///dev/virtio-ports/agent.channel.0';
export const AGENT_READY = /"msg":"agent ready".*"pid1":true/;

/** An agent image in a temp dir of its own, for a test file's beforeAll; dispose() in afterAll. */
export async function agentImageFixture(): Promise<{ image: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'vm-agent-'));
  return { image: await buildAgentImage(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** Builds the guest rootfs (agent as init) in `dir` and packs it as Kata's DAX image. */
export async function buildAgentImage(dir: string): Promise<string> {
  const tree = await buildRootfs({ declarationPath: resolve(__dirname, '../../rootfs/guest.json'), outputDir: join(dir, 'rootfs'), init: 'agent' });
  return (await buildImage({ rootfsDir: tree.dir, output: join(dir, 'rootfs.img'), layout: 'dax' })).path;
}

export interface AgentBootOptions extends Partial<Omit<BootOptions, 'kernel' | 'media'>> {
  /** Default 60 s: a TCG boot of the image with Node's first start. */
  readyTimeoutMs?: number;
  /** agent.server_addr instead of AGENT_SERVER_ADDR's (e.g. one listener alone). */
  serverAddr?: string;
  /** Default true. The shell is a child of the agent: it holds PID 1's event loop while it runs. */
  debugConsole?: boolean;
}

/**
 * Boots with the agent as PID 1 and (unless debugConsole: false) the debug console on; resolves
 * once the agent is ready.
 * `media` is a DAX image path, or any boot media (an initrd).
 */
export async function bootAgent(kernel: KernelArtifacts, media: string | BootMedia, opts: AgentBootOptions = {}): Promise<VmHandle> {
  const { readyTimeoutMs = 60_000, extraCmdline = [], serverAddr, debugConsole = true, ...rest } = opts;
  const vm = await bootVm({
    kernel: kernel.vmlinux,
    media: typeof media === 'string' ? { kind: 'image', image: media, attach: 'nvdimm' } : media,
    accel: 'tcg',
    agentChannel: 'serial',
    timeoutMs: 120_000,
    ...rest,
    extraCmdline: [
      serverAddr === undefined ? AGENT_SERVER_ADDR : `agent.server_addr=${serverAddr}`,
      ...(debugConsole ? ['agent.debug_console'] : []),
      ...extraCmdline,
    ],
  });
  try {
    await vm.waitForConsole(AGENT_READY, readyTimeoutMs);
  } catch (err) {
    await vm.stop();
    throw err;
  }
  return vm;
}

/** Runs a shell line on the debug console; resolves with its exit status as printed after `mark=`. */
export async function consoleRun(vm: VmHandle, command: string, mark: string, timeoutMs = 60_000): Promise<string> {
  vm.writeConsole(`${command}; echo ${mark}=$?\n`);
  const m = await vm.waitForConsole(new RegExp(`^${mark}=(\\d+)`), timeoutMs);
  return m[1]!;
}
