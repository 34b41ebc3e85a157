// crun state: the runtime's view of a container (status, init pid).
import type { OciRuntime } from './oci-runtime';

export interface OciState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused' | string;
  bundle: string;
}

export async function ociState(rt: OciRuntime, id: string): Promise<OciState> {
  const { stdout } = await rt.run('state', id, ['state', id]);
  return JSON.parse(stdout) as OciState;
}
