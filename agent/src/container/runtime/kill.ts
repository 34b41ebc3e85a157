// crun kill: a signal to the container's init, or with `all` to every process in it.
import type { OciRuntime } from './oci-runtime';

export async function ociKill(rt: OciRuntime, id: string, signal: number, all = false): Promise<void> {
  await rt.run('kill', id, ['kill', ...(all ? ['--all'] : []), id, String(signal)]);
}
