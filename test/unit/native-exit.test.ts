// A process that exits with native fd watches still open (a netlink socket, a vsock listener)
// must exit cleanly: the addon's finalizers run while Node tears the environment down.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleForNode } from '../helpers/ns-scenarios';

const netlinkFace = fileURLToPath(new URL('../../agent/src/native/netlink.ts', import.meta.url));
const addonPath = fileURLToPath(new URL('../../agent/native/build/Release/kata_native.node', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'native-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('process exit with open fd watches', () => {
  it('exits 0 with a netlink socket left open, and with it closed', async () => {
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      `import { NETLINK_ROUTE, NetlinkSocket } from ${JSON.stringify(netlinkFace)};
       const s = new NetlinkSocket(NETLINK_ROUTE, () => {}, () => {});
       if (process.argv[2] === 'close') s.close();
       console.log('opened', s.fd > 2);`,
    );
    const outfile = await bundleForNode(entry, join(dir, 'child.mjs'));
    mkdirSync(join(dir, 'native'));
    symlinkSync(addonPath, join(dir, 'native', 'kata_native.node'));
    for (const args of [[], ['close']]) {
      const r = spawnSync(process.execPath, [outfile, ...args], { encoding: 'utf8' });
      expect({ status: r.status, signal: r.signal, out: r.stdout.trim() }).toEqual({ status: 0, signal: null, out: 'opened true' });
    }
  });
});
