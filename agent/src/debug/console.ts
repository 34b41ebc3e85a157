// The debug console: a shell for people debugging a guest (agent.debug_console on the serial
// console, agent.debug_console_vport on a vsock port, one shell per connection). Only turned on
// by the host through the kernel command line, as in Kata.
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/logger';
import { claimPid, releasePid } from '../native';
import { listenAddress, type Listener, type ListenOptions } from '../transport/listen';

export const SHELL_CANDIDATES = ['/bin/bash', '/bin/sh', '/usr/bin/sh', '/bin/busybox'];

export function findShell(candidates = SHELL_CANDIDATES): string[] {
  for (const c of candidates) {
    if (existsSync(c)) return c.endsWith('busybox') ? [c, 'sh'] : [c];
  }
  throw new Error(`debug console: no shell found (tried ${candidates.join(', ')})`);
}

const SHELL_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', TERM: 'vt100', HOME: '/root' };

/** A shell on /dev/console, started again whenever it exits. */
export function startConsoleShell(log: Logger, device = '/dev/console'): () => void {
  let stopped = false;
  const start = () => {
    if (stopped) return;
    let fd: number;
    let shell: string[];
    try {
      fd = openSync(device, 'r+');
      shell = findShell();
    } catch (err) {
      return void log.error('debug console unavailable', { error: err });
    }
    const child = spawn(shell[0]!, shell.slice(1), { stdio: [fd, fd, fd], env: SHELL_ENV, detached: true });
    child.on('error', (err) => log.error('debug console shell failed', { error: err }));
    child.on('exit', (code, signal) => {
      log.info('debug console shell exited', { code, signal });
      setTimeout(start, 500); // respawn, like a getty
    });
  };
  start();
  return () => {
    stopped = true;
  };
}

/** Serves one shell on a pseudo-terminal per connection to `address` (vsock://-1:1026). */
export async function serveDebugConsole(address: string, log: Logger, opts: ListenOptions): Promise<Listener> {
  const pty = await import('node-pty');
  return listenAddress(
    address,
    (socket: Duplex, peer) => {
      let shell: string[];
      try {
        shell = findShell();
      } catch (err) {
        socket.end(`${(err as Error).message}\n`);
        return;
      }
      const term = pty.spawn(shell[0]!, shell.slice(1), { name: 'vt100', cols: 80, rows: 24, cwd: '/', env: SHELL_ENV });
      // node-pty waits for its child on its own thread: keep the orphan reaper off this pid.
      claimPid(term.pid);
      log.info('debug console session', { peer, pid: term.pid });
      term.onData((data) => socket.write(data));
      term.onExit(() => {
        releasePid(term.pid);
        socket.end();
      });
      socket.on('data', (chunk: Buffer) => term.write(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        try {
          term.kill('SIGHUP');
        } catch {
          // already gone
        }
      });
    },
    opts,
  );
}
