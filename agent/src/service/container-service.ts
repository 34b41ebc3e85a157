// AgentService handlers for the pod and its containers: check ids, call the domain modules
// (sandbox/, container/), and map their failures to a status here, in one place.
import { copyFile } from '../container/copy-file';
import type { ContainerManager } from '../container/manager';
import type { OomEvents } from '../container/oom-events';
import { EndOfOutput } from '../container/output-stream';
import { OciRuntimeError } from '../container/runtime/oci-runtime';
import type { Logger } from '../log/logger';
import { isChildSubreaper, isPid1 } from '../native/orphan-reaper';
import { isValidId } from '../paths';
import type { SandboxLifecycle } from '../sandbox/lifecycle';
import { Code, RpcError } from '../ttrpc/status';
import type { AgentServiceImpl, Handler } from './typed';

export interface ContainerServiceDeps {
  log: Logger;
  containers: ContainerManager;
  sandbox: SandboxLifecycle;
  oom: OomEvents;
}

function checkId(kind: string, id: unknown, allowEmpty = false): string {
  const s = typeof id === 'string' ? id : '';
  if (allowEmpty && s === '') return s;
  if (!isValidId(s)) throw new RpcError(Code.INVALID_ARGUMENT, `invalid ${kind} id "${s}": ids are 1-128 letters, digits, '_', '.', '-', with no '/' or '..'`);
  return s;
}

/** The one place where container-area failures become wire statuses. */
function toRpcError(method: string, err: unknown): unknown {
  if (err instanceof RpcError) return err;
  if (err instanceof OciRuntimeError) return new RpcError(Code.INTERNAL, `${method}: ${err.message}`);
  // How every Kata runtime reads the end of a ReadStdout/ReadStderr stream (see EndOfOutput).
  if (err instanceof EndOfOutput) return new RpcError(Code.OUT_OF_RANGE, err.message);
  return err; // errno errors map through statusFromError (ENOENT -> NOT_FOUND ...)
}

function guarded<M extends keyof AgentServiceImpl>(method: M, fn: Handler<M>): Handler<M> {
  return async (req, ctx) => {
    try {
      return await fn(req, ctx);
    } catch (err) {
      throw toRpcError(method, err);
    }
  };
}

/** Each handler of `handlers` behind guarded(). */
function guardAll<T extends AgentServiceImpl>(handlers: T): T {
  const out: AgentServiceImpl = {};
  for (const name of Object.keys(handlers) as Array<keyof AgentServiceImpl>) {
    (out as Record<string, unknown>)[name] = guarded(name, handlers[name] as Handler<typeof name>);
  }
  return out as T;
}

export function createContainerService(deps: ContainerServiceDeps) {
  const { log, containers, sandbox, oom } = deps;
  // crun leaves container processes to us; without being PID 1 or a subreaper (OrphanReaper
  // started) they go to another init and their exit statuses are lost. Checked when the first
  // sandbox or container is made, not here: constructing the services touches nothing of the
  // process (the startup snapshot's builder constructs them once).
  let reapingChecked = false;
  const checkReaping = (): void => {
    if (reapingChecked) return;
    reapingChecked = true;
    if (!isPid1() && !isChildSubreaper()) {
      log.warn('the agent is neither PID 1 nor a child subreaper: start the OrphanReaper, or WaitProcess cannot collect exit statuses');
    }
  };

  const cid = (r: { container_id: string }) => checkId('container', r.container_id);
  const eid = (r: { exec_id: string }) => checkId('exec', r.exec_id, true);
  const empty = {};

  return guardAll({
    CreateSandbox: async (r, ctx) => {
      checkReaping();
      if (r.sandbox_id) checkId('sandbox', r.sandbox_id);
      await sandbox.create(r, ctx.signal);
      return empty;
    },
    DestroySandbox: async () => {
      await sandbox.destroy();
      return empty;
    },
    CreateContainer: async (r, ctx) => {
      checkReaping();
      cid(r);
      if (r.exec_id) checkId('exec', r.exec_id);
      await containers.create(r, ctx.signal);
      return empty;
    },
    StartContainer: async (r) => {
      await containers.start(cid(r));
      return empty;
    },
    RemoveContainer: async (r) => {
      await containers.remove(cid(r), r.timeout);
      return empty;
    },
    ExecProcess: async (r) => {
      await containers.exec(cid(r), checkId('exec', r.exec_id), r.process);
      return empty;
    },
    SignalProcess: async (r) => {
      await containers.signal(cid(r), eid(r), r.signal);
      return empty;
    },
    WaitProcess: async (r) => ({ status: await containers.wait(cid(r), eid(r)) }),
    UpdateContainer: async (r) => {
      await containers.update(cid(r), r.resources);
      return empty;
    },
    StatsContainer: async (r) => containers.stats(cid(r)),
    PauseContainer: async (r) => {
      await containers.pause(cid(r));
      return empty;
    },
    ResumeContainer: async (r) => {
      await containers.resume(cid(r));
      return empty;
    },
    WriteStdin: async (r) => ({ len: await containers.write(cid(r), eid(r), r.data) }),
    ReadStdout: async (r) => ({ data: await containers.read(cid(r), eid(r), 'stdout', r.len) }),
    ReadStderr: async (r) => ({ data: await containers.read(cid(r), eid(r), 'stderr', r.len) }),
    CloseStdin: (r) => {
      containers.closeStdin(cid(r), eid(r));
      return empty;
    },
    TtyWinResize: (r) => {
      containers.resizeTty(cid(r), eid(r), r.row, r.column);
      return empty;
    },
    GetOOMEvent: async (_r, ctx) => ({ container_id: await oom.next(ctx.signal) }),
    CopyFile: async (r) => {
      await copyFile(r);
      return empty;
    },
  } satisfies AgentServiceImpl);
}
