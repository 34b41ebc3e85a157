// Builds and runs the Go ttRPC peer (test/go/ttrpc-peer) for the interop test and the benchmark.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// test/go itself, or its parent when this module was bundled into test/go/bin/ (bench/ttrpc.ts),
// or the repository's test/go when bundled elsewhere (bench/run.mjs runs from the repository root).
const here = dirname(fileURLToPath(import.meta.url));
const goDir = [here, dirname(here), join(process.cwd(), 'test/go')].find((d) => existsSync(join(d, 'build.sh'))) ?? here;
export const PEER_BINARY = join(goDir, 'bin', 'ttrpc-peer');
const BUILD_SCRIPT = join(goDir, 'build.sh');

/** Why the Go peer cannot be built here, or undefined when it can. */
export function goPeerUnavailableReason(): string | undefined {
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) return "'go' is not installed (apt-get install golang-go)";
  if (!existsSync('/usr/share/gocode/src/github.com/containerd/ttrpc')) {
    return 'containerd ttrpc sources are missing (apt-get install golang-github-containerd-ttrpc-dev)';
  }
  return undefined;
}

export function buildGoPeer(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sh', [BUILD_SCRIPT], { timeout: 600_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`build Go ttrpc peer with ${BUILD_SCRIPT}: ${err.message}\n${stderr}`));
      else resolve(PEER_BINARY);
    });
  });
}

/** Runs the peer once (client or bench-client mode) and parses the JSON it prints. */
export function runGoPeer<T>(args: string[], timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(PEER_BINARY, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const how = err.killed ? `killed after ${timeoutMs} ms` : `failed (exit ${String(err.code)})`;
        return reject(new Error(`ttrpc-peer ${args.join(' ')} ${how}:\n${stderr.slice(0, 2000)}`));
      }
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`ttrpc-peer ${args.join(' ')} printed no JSON: ${stdout.slice(0, 500)}`));
      }
    });
  });
}

export interface GoServer {
  readonly socketPath: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts the Go ttRPC server on a unix socket; resolves once it printed READY. */
export function startGoServer(socketPath: string, mode: 'server' | 'bench-server' | 'agent-server' = 'server'): Promise<GoServer> {
  // --watch-stdin: the peer exits when our end of its stdin closes, even if we die first.
  const child: ChildProcess = spawn(PEER_BINARY, [mode, '--socket', socketPath, '--watch-stdin'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.stdin!.end();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`Go ttrpc ${mode} on ${socketPath}: no READY within 10 s\n${stderr}`));
    }, 10_000);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY\n')) {
        clearTimeout(timer);
        resolve({ socketPath, pid: child.pid!, stop });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Go ttrpc ${mode} on ${socketPath} exited with ${code} before READY\n${stderr}`));
    });
  });
}
