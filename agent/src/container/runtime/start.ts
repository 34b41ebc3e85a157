// crun start: lets the created container's init run its program.
import type { OciRuntime } from './oci-runtime';

export async function ociStart(rt: OciRuntime, id: string): Promise<void> {
  await rt.run('start', id, ['start', id]);
}
