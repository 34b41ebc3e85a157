// crun update --resources: new cgroup limits for a running container (OCI LinuxResources JSON).
import type { OciRuntime } from './oci-runtime';

export async function ociUpdate(rt: OciRuntime, id: string, resourcesFile: string): Promise<void> {
  await rt.run('update', id, ['update', `--resources=${resourcesFile}`, id]);
}
