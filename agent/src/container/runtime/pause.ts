// crun pause / resume: freezes and thaws the container's cgroup.
import type { OciRuntime } from './oci-runtime';

export async function ociPause(rt: OciRuntime, id: string): Promise<void> {
  await rt.run('pause', id, ['pause', id]);
}

export async function ociResume(rt: OciRuntime, id: string): Promise<void> {
  await rt.run('resume', id, ['resume', id]);
}
