// The debug console: a shell for people debugging a guest (agent.debug_console on the serial
// console, agent.debug_console_vport on a vsock port, one shell per connection). Only turned on
// by the host through the kernel command line, as in Kata.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/logger';
import { claimPid, releasePid } from '../native';
import { listenAddress, type Listener, type ListenOptions } from '../transport/listen';

export const SHELL_CANDIDATES = ['/bin/bash', '/bin/sh', '/usr/bin/sh', '/bin/busybox'];
const BUSYBOX = '/bin/busybox';
/** What busybox (or the shell's exec) exits with when a command or applet is not found. */
const NOT_FOUND = 127;
/** ^D: what a terminal sends as end of input. */
const VEOF = '\x04';
/** A shell that ignores ^D (bash's ignoreeof) gets this many before we stop sending them. */
const MAX_EOFS = 16;

/**
 * End of a console client's input, told to the shell on its pty as ^D. One ^D is not enough: one
 * that arrives while the pty is still in canonical mode and the shell then switches to raw mode
 * for line editing reaches it as a NUL byte, not as end of input (the input and the ^D often
 * arrive before the shell has started). So every later read should see end of input too: after
 * the input ended, each burst of shell output (a prompt, a program's output) is followed by
 * another ^D.
 */
class EndOfInput {
  private ended = false;
  private sent = 0;
  constructor(private readonly write: (text: string) => void) {}

  inputEnded(): void {
    this.ended = true;
    this.send();
  }

  shellWrote(): void {
    if (this.ended) this.send();
  }

  private send(): void {
    if (this.sent >= MAX_EOFS) return;
    this.sent++;
    this.write(VEOF);
  }
}

export function findShell(candidates = SHELL_CANDIDATES): string[] {
  for (const c of candidates) {
    if (existsSync(c)) return c.endsWith('busybox') ? [c, 'sh'] : [c];
  }
  throw new Error(`debug console: no shell found (tried ${candidates.join(', ')})`);
}

const SHELL_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', TERM: 'vt100', HOME: '/root' };

/**
 * A shell on /dev/console, started again whenever it exits. The shell gets the console as its
 * controlling terminal (job control, ^C, /dev/tty) through busybox's cttyhack, run in a new
 * session: it opens the active console device (/dev/ttyS0, not /dev/console, which cannot be a
 * useful controlling tty) and takes it with TIOCSCTTY before exec'ing the shell. Without busybox
 * the shell runs with no controlling terminal.
 */
export function startConsoleShell(log: Logger, device = '/dev/console'): () => void {
  let stopped = false;
  let useCttyhack = existsSync(BUSYBOX);
  const start = () => {
    if (stopped) return;
    let fd: number;
    let shell: string[];
    try {
      shell = findShell();
      fd = openSync(device, 'r+');
    } catch (err) {
      return void log.error('debug console unavailable', { error: err });
    }
    const argv = useCttyhack ? [BUSYBOX, 'cttyhack', ...shell] : shell;
    const started = Date.now();
    // detached: setsid() in the child, so the shell's session can own the console.
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [fd, fd, fd], env: SHELL_ENV, detached: true });
    closeSync(fd); // the child has its copies
    child.on('error', (err) => log.error('debug console shell failed', { error: err }));
    child.on('exit', (code, signal) => {
      log.info('debug console shell exited', { code, signal });
      if (useCttyhack && code === NOT_FOUND && Date.now() - started < 5000) {
        log.warn('busybox has no cttyhack applet: the console shell runs without a controlling tty');
        useCttyhack = false;
      }
      setTimeout(start, 500); // respawn, like a getty
    });
  };
  start();
  return () => {
    stopped = true;
  };
}

/**
 * node-pty is CommonJS and reads `__dirname` as it loads (only to place a macOS helper). Bundled
 * into the agent's ES module there is no `__dirname`, and the import threw "__dirname is not
 * defined" in the guest: give it the bundle's directory, where its pty.node sits too.
 */
async function loadNodePty(): Promise<typeof import('node-pty')> {
  const scope = globalThis as { __dirname?: string };
  scope.__dirname ??= dirname(fileURLToPath(import.meta.url));
  return import('node-pty');
}

/** Serves one shell on a pseudo-terminal per connection to `address` (vsock://-1:1026). */
export async function serveDebugConsole(address: string, log: Logger, opts: ListenOptions): Promise<Listener> {
  const pty = await loadNodePty();
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
      // The client closing its input (`echo cmd | agent-ctl console`) is end of input for the
      // shell, as on a terminal: it runs what it was sent, then exits, and the output still
      // reaches the client. Only a full close or error hangs the shell up.
      socket.allowHalfOpen = true;
      let shellAlive = true;
      const toShell = (data: string | Buffer): void => {
        if (shellAlive) term.write(data);
      };
      const eof = new EndOfInput(toShell);
      term.onData((data) => {
        socket.write(data);
        eof.shellWrote();
      });
      term.onExit(() => {
        shellAlive = false;
        releasePid(term.pid);
        socket.end();
      });
      socket.on('data', toShell);
      socket.on('end', () => eof.inputEnded());
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
