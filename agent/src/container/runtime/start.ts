// StartContainer: lets the created container's init run its program.
//
// crun (like runc) parks a created init on a FIFO in its state directory, <root>/<id>/exec.fifo;
// `crun start` opens it for writing, unlinks it and writes one byte, then runs poststart hooks.
// A `crun start` process costs ~7 ms (crun's own startup) against ~0.1 ms for that write, on every
// StartContainer a runtime sends, so without poststart hooks the agent releases the init itself.
// Anything unexpected (no FIFO: another runtime or layout; no reader: the init died) falls back
// to `crun start`, which then reports the state as crun sees it.
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { OciRuntimeError, type OciRuntime } from './oci-runtime';

export interface StartOptions {
  /** The spec has poststart hooks: only crun runs them, so `crun start` is used. */
  poststartHooks: boolean;
}

export async function ociStart(rt: OciRuntime, id: string, opts: StartOptions = { poststartHooks: true }): Promise<void> {
  if (!opts.poststartHooks && releaseByExecFifo(rt, id)) return;
  await rt.run('start', id, ['start', id]);
}

/** True when the init was released; false when `crun start` should do it. */
function releaseByExecFifo(rt: OciRuntime, id: string): boolean {
  const fifo = path.join(rt.root, id, 'exec.fifo');
  let fd: number;
  try {
    // Non-blocking: with no reader (the init is gone) this fails with ENXIO instead of waiting.
    fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    // Unlinked first, as crun does: a started container is one without its FIFO (crun state).
    unlinkSync(fifo);
    writeSync(fd, Buffer.of(0));
    return true;
  } catch (err) {
    throw new OciRuntimeError('start', id, `release the init through ${fifo}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, null);
  } finally {
    closeSync(fd);
  }
}
