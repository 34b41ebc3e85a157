// One container's state: its bundle, init, execs and lifecycle status. Calls for one container
// are ordered by its own lock; containers never wait on each other.
import type { OciJson } from './oci-json';
import type { ContainerProcess } from './process';
import { RwLock } from './rw-lock';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'stopped';

export class Container {
  readonly lock = new RwLock();
  readonly execs = new Map<string, ContainerProcess>();
  /** Exec ids being started: taken synchronously so that a duplicate is refused at once. */
  readonly pendingExecs = new Set<string>();
  #status: ContainerStatus = 'created';
  removed = false;

  constructor(
    readonly id: string,
    readonly stateDir: string,
    readonly spec: OciJson,
    readonly init: ContainerProcess,
    /** Whether the container's init is PID 1 of its pid namespace (SIGTERM rule). */
    readonly ownsPidNamespace: boolean,
  ) {
    void init.exited.then(() => {
      this.#status = 'stopped';
    });
  }

  get status(): ContainerStatus {
    return this.init.running ? this.#status : 'stopped';
  }

  set status(s: ContainerStatus) {
    this.#status = s;
  }

  /** cgroup v2 directory of the container, relative to the cgroup root. */
  get cgroupsPath(): string {
    return String(this.spec.linux?.cgroupsPath ?? `/${this.id}`);
  }

  /** The init when execId is empty or the container id, else that exec. */
  process(execId: string): ContainerProcess | undefined {
    if (execId === '' || execId === this.id) return this.init;
    return this.execs.get(execId);
  }

  allProcesses(): ContainerProcess[] {
    return [this.init, ...this.execs.values()];
  }
}
