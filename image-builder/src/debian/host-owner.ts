import { runTool } from '../progress/run-tool';

/**
 * Which installed host package ships a file name (`dpkg -S`), for hints only: the build itself
 * never depends on what is installed on the host.
 */
export async function hostPackageShipping(fileName: string): Promise<string | undefined> {
  try {
    const { stdout } = await runTool('dpkg', ['-S', `*/${fileName}`]);
    const first = stdout.split('\n').find((l) => l.includes(':'));
    return first?.slice(0, first.indexOf(':')).split(',')[0]?.trim();
  } catch {
    return undefined;
  }
}
