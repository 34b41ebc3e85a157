// Runs a build tool, streaming its output lines to a callback and keeping the tail for errors.
import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  onLine?: (line: string) => void;
}

const TAIL_LINES = 40;

export function runCommand(command: string, args: readonly string[], opts: RunOptions = {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const all: string[] = [];
    const onChunk = (pending: { text: string }) => (chunk: Buffer) => {
      pending.text += chunk.toString('utf8');
      const lines = pending.text.split('\n');
      pending.text = lines.pop()!;
      for (const line of lines) {
        all.push(line);
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        opts.onLine?.(line);
      }
    };
    child.stdout.on('data', onChunk({ text: '' }));
    child.stderr.on('data', onChunk({ text: '' }));
    child.on('error', (err) => reject(new Error(`run ${command}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(all);
      else
        reject(
          new Error(
            `run ${command} ${args.join(' ')}: exited with ${signal ?? code}\n--- last output ---\n${tail.join('\n')}`,
          ),
        );
    });
  });
}
