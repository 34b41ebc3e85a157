// CreateContainer.devices and CreateSandbox.guest_hook_path through the agent and real crun.
// A block device cannot be hot-plugged on the host, so the device is one that already exists
// (given by vm_path, as mmioblk): the container must see it at container_path with the guest's
// major/minor, and the spec crun got must allow it in the device cgroup. The guest hooks are
// scripts that leave a marker with the container state crun passed them.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContainerAgent, startContainerAgent } from '../helpers/container-agent';
import { containerSpec, processSpec, sandboxRequest } from '../helpers/container-spec';

let agent: ContainerAgent;
let work: string;
let markers: string;
let blockDevice: string;
let madeNode = false;

const call = <T extends Record<string, unknown> = Record<string, unknown>>(method: string, req: Record<string, unknown>) =>
  agent.client.request<T>(method, req);

/** A block device node that exists on this machine (a loop or disk node), or one made for the test. */
function findBlockDevice(): string {
  for (const name of readdirSync('/dev').sort()) {
    const p = `/dev/${name}`;
    try {
      if (statSync(p).isBlockDevice()) return p;
    } catch {
      // vanished
    }
  }
  const p = `/dev/kata-test-blk-${process.pid}`;
  execFileSync('mknod', [p, 'b', '7', '250']);
  madeNode = true;
  return p;
}

function numbersOf(node: string): [number, number] {
  const rdev = statSync(node).rdev;
  return [Math.floor(rdev / 256) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & ~0xff)];
}

async function runExec(cid: string, execId: string, args: string[]): Promise<string> {
  await call('ExecProcess', { container_id: cid, exec_id: execId, process: processSpec(args) });
  const out = (await agent.client.readAllOutput(cid, execId)).toString();
  await call('WaitProcess', { container_id: cid, exec_id: execId });
  return out;
}

/** The container states the hook `kind`/10-mark was called with, for container `cid`. */
function hookCalls(kind: string, cid: string): Array<{ id: string; pid?: number }> {
  const file = path.join(markers, `${kind}-10-mark.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { id: string; pid?: number })
    .filter((s) => s.id === cid);
}

function hook(kind: string, name: string): void {
  mkdirSync(path.join(work, 'hooks', kind), { recursive: true });
  const file = path.join(work, 'hooks', kind, name);
  // args are [name, kind] (argv[0], argv[1]); the container state comes on stdin
  writeFileSync(file, `#!/bin/sh\n{ /bin/cat; echo; } >> "${markers}/$1-\${0##*/}.jsonl"\n`);
  chmodSync(file, 0o755);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'kata-dev-hooks-'));
  markers = path.join(work, 'markers');
  mkdirSync(markers);
  hook('prestart', '10-mark');
  hook('poststart', '10-mark');
  hook('poststop', '10-mark');
  writeFileSync(path.join(work, 'hooks', 'prestart', '20-not-executable'), '#!/bin/sh\n/bin/touch /should-not-run\n');
  blockDevice = findBlockDevice();
  agent = await startContainerAgent();
  await call('CreateSandbox', { ...sandboxRequest(), guest_hook_path: path.join(work, 'hooks') });
});

afterAll(async () => {
  await agent?.stop();
  if (madeNode) rmSync(blockDevice, { force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('container devices and guest hooks', () => {
  it('a block device given by vm_path appears at container_path with the guest numbers, allowed in the device cgroup', async () => {
    const cid = 'devs';
    agent.addRootfs(cid);
    const [major, minor] = numbersOf(blockDevice);
    const spec = containerSpec(cid, ['sleep', '1000000']) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    // The host's view: its own numbers for /dev/xvda, and a rule for them.
    spec.Linux.Devices = [{ Path: '/dev/xvda', Type: 'b', Major: 8, Minor: 0, FileMode: 0o660 }];
    spec.Linux.Resources = { Devices: [{ Allow: false, Access: 'rwm' }, { Allow: true, Type: 'b', Major: 8, Minor: 0, Access: 'rw' }] };
    await call('CreateContainer', {
      container_id: cid,
      exec_id: cid,
      OCI: spec,
      devices: [
        { id: '', type: 'mmioblk', vm_path: blockDevice, container_path: '/dev/xvda' },
        // not listed by the host: added as the guest has it
        { id: '', type: 'nvdimm', vm_path: blockDevice, container_path: '/dev/pmem-like' },
      ],
    });
    await call('StartContainer', { container_id: cid });
    const hex = (n: number) => n.toString(16);
    const seen = await runExec(cid, 'stat', ['sh', '-c', 'stat -c "%n %F %t:%T" /dev/xvda /dev/pmem-like']);
    expect(seen).toBe(`/dev/xvda block special file ${hex(major)}:${hex(minor)}\n/dev/pmem-like block special file ${hex(major)}:${hex(minor)}\n`);
    // what crun was given
    const config = JSON.parse(readFileSync(`/proc/${agent.pid}/root/run/kata-containers/${cid}/config.json`, 'utf8'));
    expect(config.linux.devices).toEqual([
      { path: '/dev/xvda', type: 'b', major, minor, fileMode: 0o660 },
      expect.objectContaining({ path: '/dev/pmem-like', type: 'b', major, minor }),
    ]);
    expect(config.linux.resources.devices).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'b', major, minor, access: 'rw' },
      { allow: true, type: 'b', major, minor, access: 'rwm' },
      { allow: true, type: 'b', major, minor, access: 'rwm' },
    ]);
    await call('RemoveContainer', { container_id: cid, timeout: 10 });
  });

  it('a device that is not there fails the create with DEADLINE_EXCEEDED naming it, nothing left', async () => {
    const cid = 'nodev';
    agent.addRootfs(cid);
    const started = performance.now();
    await expect(
      call('CreateContainer', { container_id: cid, exec_id: cid, OCI: containerSpec(cid, ['true']), devices: [{ type: 'mmioblk', vm_path: '/dev/vd-never-there', container_path: '/dev/x' }] }),
    ).rejects.toMatchObject({ code: 4, message: expect.stringContaining('/dev/vd-never-there') });
    expect(performance.now() - started).toBeLessThan(10_000);
    await expect(call('StartContainer', { container_id: cid })).rejects.toMatchObject({ code: 5 });
  });

  it('guest hooks from guest_hook_path run at create/start (prestart, poststart) and delete (poststop)', async () => {
    const cid = 'hooked';
    agent.addRootfs(cid);
    await call('CreateContainer', { container_id: cid, exec_id: cid, OCI: containerSpec(cid, ['sleep', '1000000']) });
    await call('StartContainer', { container_id: cid });
    for (const kind of ['prestart', 'poststart']) {
      const calls = hookCalls(kind, cid);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.pid).toBeGreaterThan(0);
    }
    expect(hookCalls('poststop', cid)).toEqual([]);
    await call('RemoveContainer', { container_id: cid, timeout: 10 });
    expect(hookCalls('poststop', cid)).toHaveLength(1);
    expect(existsSync('/should-not-run')).toBe(false);
    expect(agent.logs.find((l) => l.msg === 'guest hooks found')).toMatchObject({ hooks: { prestart: ['10-mark'], poststart: ['10-mark'], poststop: ['10-mark'] } });
  });
});
