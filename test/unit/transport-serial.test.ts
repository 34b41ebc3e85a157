import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { constants, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/client/agent-client';
import { FdStream } from '../../agent/src/native';
import { resolveSerialPort } from '../../agent/src/transport/serial';
import { TtrpcClient } from '../../agent/src/ttrpc';
import { type AgentProcess, startAgentProcess } from '../helpers/agent-process';

describe('virtio-serial port lookup', () => {
  it('finds /dev/vportNpM by its name in sysfs when udev made no /dev/virtio-ports link', () => {
    const sys = mkdtempSync(path.join(tmpdir(), 'vports-'));
    for (const [port, name] of [['vport1p1', 'org.qemu.guest_agent.0'], ['vport2p1', 'agent.channel.0']]) {
      mkdirSync(path.join(sys, port));
      writeFileSync(path.join(sys, port, 'name'), `${name}\n`);
    }
    expect(resolveSerialPort('/dev/virtio-ports/agent.channel.0', sys)).toBe('/dev/vport2p1');
    expect(resolveSerialPort('/dev/virtio-ports/missing', sys)).toBe('/dev/virtio-ports/missing');
    expect(resolveSerialPort('/dev/ttyS1', sys)).toBe('/dev/ttyS1');
  });
});

// A pty master stands in for the port: like a virtio-serial port it polls POLLHUP while its other
// end (the slave, here the "host") is closed, clears it when that end is opened again, and raises
// SIGIO when data comes. The agent opens /dev/ptmx itself, so it serves the real port code.
const O_ASYNC = 0o20000;

/**
 * A host that comes and goes, through a copy of the agent's master fd (pidfd_getfd: root may):
 * the slave is unlocked, made raw (ttRPC is binary: no echo, no newline translation; the setting
 * stays with the pty), opened and closed. Node has no ioctl, so python3 does it.
 */
const HOST_CAME_AND_WENT = `
import ctypes, fcntl, os, struct, sys, tty
pid, fd = int(sys.argv[1]), int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(pid)
master = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
if master < 0:
    raise OSError(ctypes.get_errno(), 'pidfd_getfd')
fcntl.ioctl(master, 0x40045431, struct.pack('i', 0))  # TIOCSPTLCK: unlock the slave
slave = fcntl.ioctl(master, 0x5441, os.O_RDWR | os.O_NOCTTY)  # TIOCGPTPEER
tty.setraw(slave)
os.close(slave)
os.close(master)
`;

function ptyMasterOf(pid: number): { fd: number; index: number } {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (!/^\/dev\/(pts\/)?ptmx$/.test(target)) continue;
    const index = /^tty-index:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    if (index) return { fd: Number(fd), index: Number(index[1]) };
  }
  throw new Error(`agent ${pid} has no pty master open`);
}

/** Resolves once `done()` holds, checked every few ms; rejects when the agent exits first or at the deadline. */
function waitUntil(agent: AgentProcess, what: string, done: () => boolean, deadlineMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + deadlineMs;
    const check = (): void => {
      if (agent.child.exitCode !== null || agent.child.signalCode !== null) {
        return reject(new Error(`the agent exited (code ${agent.child.exitCode}, signal ${agent.child.signalCode}) before ${what}`));
      }
      let ok = false;
      try {
        ok = done();
      } catch {
        // /proc entries of an agent that is exiting
      }
      if (ok) return resolve();
      if (Date.now() > deadline) return reject(new Error(`not ${what} within ${deadlineMs} ms`));
      setTimeout(check, 5);
    };
    check();
  });
}

describe('an agent whose only listener is a virtio-serial port', () => {
  it('stays up while no host is connected, and serves the host that comes next', async () => {
    const agent = await startAgentProcess({ args: ['--server-addr', 'serial:///dev/ptmx'] });
    let client: AgentClient | undefined;
    try {
      const master = ptyMasterOf(agent.child.pid!);
      execFileSync('python3', ['-c', HOST_CAME_AND_WENT, String(agent.child.pid), String(master.fd)]);
      // The listener is waiting for the next host once it has asked for SIGIO on the port. Here
      // nothing else holds the agent's event loop: an agent without a hold of its own exits now.
      const fdinfo = `/proc/${agent.child.pid}/fdinfo/${master.fd}`;
      const flags = () => Number.parseInt(/^flags:\s*([0-7]+)/m.exec(readFileSync(fdinfo, 'utf8'))![1]!, 8);
      await waitUntil(agent, 'waiting for a host (O_ASYNC on the port)', () => (flags() & O_ASYNC) !== 0, 10_000);

      const hostEnd = openSync(`/dev/pts/${master.index}`, constants.O_RDWR | constants.O_NOCTTY);
      client = new AgentClient(new TtrpcClient(new FdStream(hostEnd)));
      const answer = await client.request('Health/Check', {}, { timeoutMs: 10_000 }).catch(async (err: Error) => {
        // Say whether the agent is gone (the bug) rather than only that the call failed.
        const ended = (): string | undefined => {
          const { exitCode, signalCode } = agent.child;
          return exitCode !== null || signalCode !== null ? `exited (code ${exitCode}, signal ${signalCode})` : undefined;
        };
        const how = ended() ?? (await Promise.race([once(agent.child, 'exit').then(() => ended()), delay(2000, 'still running')]));
        throw new Error(`Health/Check over the port failed (${err.message}); the agent: ${how}`);
      });
      expect(answer).toEqual({ status: 'SERVING' });
      expect({ exitCode: agent.child.exitCode, signalCode: agent.child.signalCode }).toEqual({ exitCode: null, signalCode: null });
    } finally {
      client?.close();
      // An agent already gone (the bug; a dying Node is killed by the SIGIO the host's data raises) is not stopped.
      if (agent.child.exitCode === null && agent.child.signalCode === null) await agent.stop();
      else rmSync(agent.dir, { recursive: true, force: true });
    }
  }, 30_000);
});
