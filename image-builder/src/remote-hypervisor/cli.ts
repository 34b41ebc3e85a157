// `image-builder remote-hypervisor`: serves Kata's remote hypervisor protocol on a unix socket,
// so that Kata's own shim (hypervisor type "remote") runs pods in VMs of our kernel and image,
// on a host without KVM or vhost-vsock too (QEMU falls back to TCG, the agent talks over
// virtio-serial). Runs until SIGINT/SIGTERM, then stops every VM it made.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureKernel } from '../kernel/build-kernel';
import { serveRemoteHypervisor } from './server';
import { RemoteHypervisor } from './service';

const USAGE = `usage: image-builder remote-hypervisor --socket PATH [--image FILE] [--kernel FILE]
    [--state-dir DIR] [--memory MiB] [--cpus N] [--agent-log LEVEL] [--append ARGS]
    [--start-timeout SECONDS]
  Kata's configuration points at it with [hypervisor.remote] remote_hypervisor_socket = PATH
  (image-builder kata-config writes such a configuration). Defaults: --image out/rootfs.img,
  the cached kernel's vmlinux, --state-dir /run/kata-node-agent/remote-hypervisor, the memory
  and vCPUs the runtime asks for (else 2048 MiB, 1), agent log level info.`;

export async function remoteHypervisorMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        socket: { type: 'string' },
        image: { type: 'string', default: 'out/rootfs.img' },
        kernel: { type: 'string' },
        'state-dir': { type: 'string', default: '/run/kata-node-agent/remote-hypervisor' },
        memory: { type: 'string', default: '2048' },
        cpus: { type: 'string', default: '1' },
        'agent-log': { type: 'string', default: 'info' },
        append: { type: 'string' },
        'start-timeout': { type: 'string', default: '120' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (!values.socket) throw new Error('--socket is required');
    for (const flag of ['memory', 'cpus', 'start-timeout'] as const) {
      if (!(Number(values[flag]) > 0)) throw new Error(`--${flag} wants a positive number, got ${values[flag]}`);
    }
  } catch (err) {
    process.stderr.write(`remote-hypervisor: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const log = (msg: string, fields: Record<string, unknown> = {}): void => {
    process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), msg, ...fields })}\n`);
  };
  const kernel = values.kernel ?? (await ensureKernel({ log: (m) => process.stderr.write(`[kernel] ${m}\n`) })).vmlinux;
  const service = new RemoteHypervisor({
    kernel,
    image: path.resolve(values.image!),
    memoryMiB: Number(values.memory),
    cpus: Number(values.cpus),
    agentLogLevel: values['agent-log']!,
    extraCmdline: values.append ? values.append.split(/\s+/).filter(Boolean) : [],
    stateDir: path.resolve(values['state-dir']!),
    startTimeoutMs: Number(values['start-timeout']) * 1000,
    log,
  });
  const running = await serveRemoteHypervisor(service, path.resolve(values.socket), (err) => log('internal error', { error: String(err) }));
  log('remote hypervisor serving', { socket: running.socketPath, kernel, image: path.resolve(values.image!) });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
  log('remote hypervisor stopped');
  return 0;
}
