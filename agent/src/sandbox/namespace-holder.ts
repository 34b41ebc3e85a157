// The pod's persistent ipc and uts namespaces: a tiny holder process living in them, whose
// /proc/<pid>/ns/{ipc,uts} every container's spec joins. The namespaces are made on the agent's
// JS thread (unshare affects only the calling thread in a multi-threaded process), the holder is
// forked from that thread so it inherits them, and the thread goes straight back: all of it is
// synchronous, so nothing else the agent does can start in between.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { CLONE_NEWIPC, CLONE_NEWUTS } from '../native/constants';
import { sethostname, setns, unshare } from '../native/namespaces';

export interface NamespaceHolderOptions {
  hostname: string;
  /** A program that blocks reading stdin; it exits when the agent closes it (or dies). */
  command?: string[];
}

export class NamespaceHolder {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {}

  get ipcPath(): string {
    return `/proc/${this.pid}/ns/ipc`;
  }

  get utsPath(): string {
    return `/proc/${this.pid}/ns/uts`;
  }

  static start(opts: NamespaceHolderOptions): NamespaceHolder {
    const [program, ...args] = opts.command ?? ['cat'];
    const ownIpc = openSync('/proc/thread-self/ns/ipc', 'r');
    const ownUts = openSync('/proc/thread-self/ns/uts', 'r');
    let child: ChildProcess;
    try {
      unshare(CLONE_NEWIPC | CLONE_NEWUTS);
      try {
        if (opts.hostname) sethostname(opts.hostname);
        child = spawn(program!, args, { stdio: ['pipe', 'ignore', 'ignore'] });
      } finally {
        setns(ownIpc, CLONE_NEWIPC);
        setns(ownUts, CLONE_NEWUTS);
      }
    } finally {
      closeSync(ownIpc);
      closeSync(ownUts);
    }
    if (child.pid === undefined) {
      throw new Error(`start the pod namespace holder ${program}: spawn failed`);
    }
    child.on('error', () => undefined); // exit is what matters; reported by the exit handler
    return new NamespaceHolder(child, child.pid);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stops the holder; the namespaces go when no container uses them any more. */
  stop(): Promise<void> {
    if (!this.alive) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin?.destroy();
      this.child.kill('SIGKILL');
    });
  }
}
