// unixPeerPid: SO_PEERCRED on a unix socket names the process that connected.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unixPeerPid } from '../../agent/src/native/peer';

const dir = mkdtempSync(join(tmpdir(), 'native-peer-pid-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('unixPeerPid', () => {
  it('is the pid of the process that connected, not ours', async () => {
    const path = join(dir, 'peer.sock');
    const accepted = new Promise<Socket>((resolve) => {
      const server = createServer((c) => {
        server.close();
        resolve(c);
      }).listen(path);
    });
    const child = spawn(process.execPath, ['-e', `require('net').connect(${JSON.stringify(path)}).on('close', () => process.exit(0))`], { stdio: 'ignore' });
    const conn = await accepted;
    expect(unixPeerPid(conn)).toBe(child.pid);
    expect(unixPeerPid(conn)).not.toBe(process.pid);
    conn.destroy();
    await new Promise((r) => child.once('exit', r));
  });

  it('says what is wrong for a socket without a file descriptor', () => {
    const closed = { _handle: null } as unknown as Socket;
    expect(() => unixPeerPid(closed)).toThrow(/not a connected unix socket/);
  });
});
