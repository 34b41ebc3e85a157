// Kata's remote hypervisor protocol, the domain side: one VM per sandbox id. CreateVM names the
// agent's socket (the runtime keeps it), StartVM boots and waits for the agent, StopVM powers off.
import path from 'node:path';
import { isValidId } from '../../../agent/src/paths';
import { RemoteHypervisorError } from './errors';
import { SandboxVm, type VmDefaults } from './sandbox-vm';

export interface RemoteHypervisorOptions extends VmDefaults {
  /** Each sandbox's sockets go in <stateDir>/<sandbox id>/, its console in <stateDir>/consoles/<sandbox id>.log. */
  stateDir: string;
  /** How long StartVM may take when the caller sets no deadline. */
  startTimeoutMs: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export const SERVICE_VERSION = '0.1.0';

export class RemoteHypervisor {
  readonly #vms = new Map<string, SandboxVm>();

  constructor(private readonly o: RemoteHypervisorOptions) {}

  get sandboxIds(): string[] {
    return [...this.#vms.keys()];
  }

  /** Where a sandbox's guest console is written (kept after StopVM). */
  consoleLogOf(id: string): string {
    return path.join(this.o.stateDir, 'consoles', `${id}.log`);
  }

  #checkId(id: string, op: string): void {
    if (!isValidId(id)) throw new RemoteHypervisorError('invalid', `${op}: invalid sandbox id "${id}"`);
  }

  #vm(id: string, op: string): SandboxVm {
    this.#checkId(id, op);
    const vm = this.#vms.get(id);
    if (!vm) throw new RemoteHypervisorError('not-found', `${op}: no VM for sandbox ${id} (CreateVM first)`);
    return vm;
  }

  createVm(id: string, annotations: Record<string, string>, shimPid: number): { agentSocketPath: string } {
    this.#checkId(id, 'CreateVM');
    if (this.#vms.has(id)) throw new RemoteHypervisorError('exists', `CreateVM: sandbox ${id} has a VM already`);
    const vm = new SandboxVm({ id, annotations, shimPid, stateDir: path.join(this.o.stateDir, id), consoleLog: this.consoleLogOf(id) }, this.o);
    vm.bootOptions(); // refuses bad annotations now rather than at StartVM
    this.#vms.set(id, vm);
    this.o.log?.('VM created', { sandbox: id, shimPid, agentSocketPath: vm.agentSocketPath });
    return { agentSocketPath: vm.agentSocketPath };
  }

  async startVm(id: string, deadline: number | undefined, signal?: AbortSignal): Promise<void> {
    const vm = this.#vm(id, 'StartVM');
    const started = Date.now();
    await vm.start(deadline ?? started + this.o.startTimeoutMs, signal);
    this.o.log?.('VM started', { sandbox: id, ms: Date.now() - started, console: vm.consoleLog });
  }

  async stopVm(id: string): Promise<void> {
    const vm = this.#vm(id, 'StopVM');
    this.#vms.delete(id);
    const exit = await vm.stop();
    this.o.log?.('VM stopped', { sandbox: id, exit });
  }

  /** Stops every VM (the service is going away). */
  async close(): Promise<void> {
    await Promise.all([...this.#vms.keys()].map((id) => this.stopVm(id).catch(() => undefined)));
  }
}
