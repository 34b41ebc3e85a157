// The agent as the benches run it: node with `nodeArgs` (a bundle, or a snapshot blob and its
// options), serving ttRPC on a unix socket, resolved once it logs "agent ready".
import { type ChildProcess, spawn } from 'node:child_process';

export async function startAgentUntilReady(nodeArgs: string[], sock: string, agentArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--server-addr', `unix://${sock}`, ...agentArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('"agent ready"')) resolve();
      if (text.length > 100_000) text = text.slice(-10_000);
    });
    child.once('exit', (code) => reject(new Error(`agent exited ${code} before ready: ${text.slice(-1000)}`)));
  });
  return child;
}
