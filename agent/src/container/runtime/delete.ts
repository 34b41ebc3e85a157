// crun delete --force: kills what is left and removes crun's state of the container.
import type { OciRuntime } from './oci-runtime';

export async function ociDelete(rt: OciRuntime, id: string): Promise<void> {
  await rt.run('delete', id, ['delete', '--force', id]);
}
