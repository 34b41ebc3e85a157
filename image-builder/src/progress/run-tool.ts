import { spawn } from 'node:child_process';

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs an external tool (apt-get, dpkg-deb, mkfs.ext4...) to completion.
 * Rejects with the command line and the tool's own stderr so the user sees why it failed.
 */
export function runTool(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' ? ` (is ${command} installed? see scripts/apt-packages/image.txt)` : '';
      reject(new Error(`run ${command}: ${e.message}${hint}`));
    });
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve({ stdout, stderr });
      else {
        const status = signal ? `signal ${signal}` : `exit status ${code}`;
        reject(new ToolError(command, args, status, stderr.trim() || stdout.trim()));
      }
    });
  });
}

/** A tool that ran but failed; keeps its output so callers can recognise known failures. */
export class ToolError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly status: string,
    readonly output: string,
  ) {
    super(`${command} ${args.join(' ')}: ${status}${output ? `: ${output}` : ''}`);
    this.name = 'ToolError';
  }
}
