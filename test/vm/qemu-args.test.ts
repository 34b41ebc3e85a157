// The QEMU command line per boot mode: what Kata's runtime and our guest rely on.
import { describe, expect, it } from 'vitest';
import type { BootOptions } from '../../image-builder/src/qemu/boot-options';
import { parseVirtioFs } from '../../image-builder/src/qemu/cli';
import { guardedCommand } from '../../image-builder/src/qemu/guarded-command';
import { parseHostTscKhz } from '../../image-builder/src/qemu/host-tsc';
import { qemuArgs } from '../../image-builder/src/qemu/qemu-args';
import { virtiofsdArgs } from '../../image-builder/src/qemu/virtio-fs';

const base: BootOptions = { kernel: '/k/bzImage', media: { kind: 'initrd', initrd: '/i.cpio.gz' } };

function valueAfter(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

describe('qemuArgs', () => {
  it('boots an initrd on microvm (no ACPI under TCG without the host TSC rate) with virtio-mmio devices and the agent port on a unix socket', () => {
    const args = qemuArgs({ opts: base, accel: 'tcg', machine: 'microvm', channel: { kind: 'serial', socketPath: '/t/a.sock' } });
    expect(valueAfter(args, '-M')).toEqual(['microvm,accel=tcg,acpi=off']);
    expect(valueAfter(args, '-initrd')).toEqual(['/i.cpio.gz']);
    expect(args).toContain('-no-reboot');
    const devices = valueAfter(args, '-device');
    expect(devices).toContain('virtio-serial-device,id=vser');
    expect(devices).toContain('virtserialport,bus=vser.0,chardev=agent,name=agent.channel.0');
    expect(devices).toContain('virtio-rng-device,rng=rng');
    expect(valueAfter(args, '-chardev')).toContain('socket,id=agent,path=/t/a.sock,server=on,wait=off');
    const cmdline = valueAfter(args, '-append')[0]!;
    expect(cmdline).toContain('panic=1');
    expect(cmdline).toContain('console=ttyS0');
    expect(cmdline).not.toContain('root=');
    // reboot=t comes after Kata's reboot=k, so it wins: the only way to restart without ACPI/i8042.
    expect(cmdline.indexOf('reboot=t')).toBeGreaterThan(cmdline.indexOf('reboot=k'));
  });

  it('counts instructions for the guest clock under TCG only when asked (benchmarks)', () => {
    const q35 = { accel: 'tcg', machine: 'q35', channel: { kind: 'none' } } as const;
    expect(qemuArgs({ ...q35, opts: base })).not.toContain('-icount');
    expect(valueAfter(qemuArgs({ ...q35, opts: { ...base, icountShift: 0 } }), '-icount')).toEqual(['shift=0,sleep=off']);
    expect(() => qemuArgs({ ...q35, accel: 'kvm', opts: { ...base, icountShift: 0 } })).toThrow(/icountShift needs TCG/);
  });

  it('maps an image read-only on an nvdimm and mounts pmem0p1 with dax on q35', () => {
    const args = qemuArgs({
      opts: { ...base, media: { kind: 'image', image: '/img', attach: 'nvdimm' } },
      accel: 'tcg',
      machine: 'q35',
      channel: { kind: 'none' },
      imageBytes: 18 << 20,
    });
    expect(valueAfter(args, '-M')).toEqual(['q35,accel=tcg,nvdimm=on']);
    expect(valueAfter(args, '-m')[0]).toMatch(/^512M,slots=2,maxmem=\d+M$/);
    expect(valueAfter(args, '-object')).toContain(
      `memory-backend-file,id=rootmem,mem-path=/img,size=${18 << 20},share=on,readonly=on`,
    );
    expect(valueAfter(args, '-device')).toContain('nvdimm,id=rootnv,memdev=rootmem,unarmed=on');
    const cmdline = valueAfter(args, '-append')[0]!;
    expect(cmdline).toContain('root=/dev/pmem0p1');
    expect(cmdline).toContain('rootflags=dax,data=ordered,errors=remount-ro');
    expect(cmdline.split(' ')).toContain('ro');
  });

  it('keeps ACPI on microvm under TCG when the host TSC rate is known, and tells the guest that rate', () => {
    const args = qemuArgs({ opts: base, accel: 'tcg', machine: 'microvm', channel: { kind: 'none' }, hostTscKhz: 2596130 });
    expect(valueAfter(args, '-M')).toEqual(['microvm,accel=tcg']);
    const cmdline = valueAfter(args, '-append')[0]!.split(' ');
    expect(cmdline).toContain('tsc_early_khz=2596130');
    expect(cmdline).toContain('reboot=t');
    // Only TCG needs it: under KVM the guest has kvmclock.
    const kvm = qemuArgs({ opts: base, accel: 'kvm', machine: 'microvm', channel: { kind: 'none' }, hostTscKhz: 2596130 });
    expect(valueAfter(kvm, '-append')[0]).not.toContain('tsc_early_khz');
  });

  it('reads the host TSC rate from /proc/cpuinfo bogomips (2 x MHz), not from the cpufreq-driven cpu MHz', () => {
    expect(parseHostTscKhz('processor\t: 0\ncpu MHz\t\t: 1200.000\nbogomips\t: 5192.26\n')).toBe(2596130);
    expect(parseHostTscKhz('processor : 0\nBogoMIPS : 50.00\n')).toBeUndefined(); // arm64 spells it differently
    expect(parseHostTscKhz('')).toBeUndefined();
  });

  it('puts the image on virtio-blk as /dev/vda1 and uses vhost-vsock when asked', () => {
    const args = qemuArgs({
      opts: { ...base, media: { kind: 'image', image: '/img', attach: 'virtio-blk' }, console: 'hvc' },
      accel: 'kvm',
      machine: 'microvm',
      channel: { kind: 'vsock', cid: 7 },
    });
    expect(valueAfter(args, '-cpu')).toEqual(['host']);
    expect(valueAfter(args, '-M')).toEqual(['microvm,accel=kvm']);
    expect(valueAfter(args, '-drive')).toContain('file=/img,if=none,id=rootdisk,format=raw,readonly=on');
    const devices = valueAfter(args, '-device');
    expect(devices).toContain('virtio-blk-device,drive=rootdisk');
    expect(devices).toContain('vhost-vsock-device,guest-cid=7');
    expect(devices).toContain('virtconsole,bus=vser.0,chardev=con');
    const cmdline = valueAfter(args, '-append')[0]!;
    expect(cmdline).toContain('console=hvc0');
    expect(cmdline).toContain('root=/dev/vda1');
  });

  it('adds extra virtio-blk disks and 9p shares after the root disk', () => {
    const args = qemuArgs({
      opts: {
        ...base,
        machine: 'q35',
        disks: [{ path: '/c.img', readonly: true }],
        shares: [{ tag: 'kataShared', path: '/share' }],
      },
      accel: 'tcg',
      machine: 'q35',
      channel: { kind: 'none' },
    });
    expect(valueAfter(args, '-drive')).toEqual(['file=/c.img,if=none,id=disk0,format=raw,readonly=on']);
    expect(valueAfter(args, '-fsdev')).toEqual(['local,id=fs0,path=/share,security_model=none']);
    expect(valueAfter(args, '-device')).toContain('virtio-9p-pci,fsdev=fs0,mount_tag=kataShared');
  });

  it('leaves room for hot-added CPUs (maxcpus and nr_cpus) and connects a QMP monitor when asked', () => {
    const args = qemuArgs({
      opts: { ...base, cpus: 1, maxCpus: 2 },
      accel: 'tcg',
      machine: 'q35',
      channel: { kind: 'none' },
      qmpSocketPath: '/t/qmp.sock',
    });
    expect(valueAfter(args, '-smp')).toEqual(['1,maxcpus=2']);
    // nr_cpus=1 would cap the possible CPUs at 1 and the hot-added one would never appear.
    expect(valueAfter(args, '-append')[0]!.split(' ')).toContain('nr_cpus=2');
    expect(valueAfter(args, '-chardev')).toContain('socket,id=qmp,path=/t/qmp.sock');
    expect(valueAfter(args, '-mon')).toEqual(['chardev=qmp,mode=control']);

    const plain = qemuArgs({ opts: { ...base, cpus: 2 }, accel: 'tcg', machine: 'q35', channel: { kind: 'none' } });
    expect(valueAfter(plain, '-smp')).toEqual(['2']);
    expect(valueAfter(plain, '-mon')).toEqual([]);
    expect(() => qemuArgs({ opts: { ...base, cpus: 2, maxCpus: 1 }, accel: 'tcg', machine: 'q35', channel: { kind: 'none' } })).toThrow(/maxCpus 1/);
  });

  it('shares a directory over virtio-fs as Kata does: guest RAM as shared file-backed memory on NUMA node 0, a vhost-user chardev, the tagged device', () => {
    const opts: BootOptions = {
      ...base,
      media: { kind: 'image', image: '/img', attach: 'nvdimm' },
      memoryMiB: 1024,
      virtioFs: { tag: 'kataShared', sharedDir: '/run/kata-containers/shared/sandboxes/s1/shared' },
    };
    const args = qemuArgs({ opts, accel: 'tcg', machine: 'q35', channel: { kind: 'none' }, imageBytes: 18 << 20, virtioFsSocketPath: '/t/virtiofs.sock' });
    // vhost-user needs the daemon to map guest memory: the backend must be shared and back all of it.
    expect(valueAfter(args, '-object')).toContain('memory-backend-file,id=dimm1,size=1024M,mem-path=/dev/shm,share=on');
    expect(valueAfter(args, '-numa')).toEqual(['node,memdev=dimm1']);
    expect(valueAfter(args, '-m')[0]).toMatch(/^1024M,slots=2,maxmem=\d+M$/); // the nvdimm keeps its slots
    expect(valueAfter(args, '-chardev')).toContain('socket,id=char-vfs,path=/t/virtiofs.sock');
    // On q35's root bus, where QEMU puts it (Kata's driver gives no bus or address either).
    expect(valueAfter(args, '-device')).toContain('vhost-user-fs-pci,chardev=char-vfs,tag=kataShared,queue-size=1024');
    // Nothing of it without the option.
    const plain = qemuArgs({ opts: base, accel: 'tcg', machine: 'q35', channel: { kind: 'none' } });
    expect(plain).not.toContain('-numa');
    expect(valueAfter(plain, '-device').some((d) => d.startsWith('vhost-user-fs'))).toBe(false);
    expect(() => qemuArgs({ opts, accel: 'tcg', machine: 'q35', channel: { kind: 'none' }, imageBytes: 1 })).toThrow(/virtiofsd socket path/);
    const micro = qemuArgs({ opts: { ...base, virtioFs: opts.virtioFs }, accel: 'tcg', machine: 'microvm', channel: { kind: 'none' }, virtioFsSocketPath: '/t/v.sock' });
    expect(valueAfter(micro, '-device')).toContain('vhost-user-fs-device,chardev=char-vfs,tag=kataShared,queue-size=1024');
    expect(() => qemuArgs({ opts: { ...base, virtioFs: { tag: 'a,b', sharedDir: '/s' } }, accel: 'tcg', machine: 'q35', channel: { kind: 'none' }, virtioFsSocketPath: '/t/v.sock' })).toThrow(/tag "a,b"/);
  });

  it('starts virtiofsd on the socket with Kata\'s options, its namespace sandbox, and no --tag (QEMU 7.2 would crash on it)', () => {
    expect(virtiofsdArgs({ tag: 'kataShared', sharedDir: '/share' }, '/t/v.sock')).toEqual([
      '--socket-path=/t/v.sock', '--shared-dir=/share', '--cache=auto', '--sandbox=namespace', '--thread-pool-size=1', '--announce-submounts',
    ]);
    const ro = virtiofsdArgs({ tag: 'x', sharedDir: '/share', readonly: true, cache: 'never', extraArgs: ['--xattr'] }, '/t/v.sock');
    expect(ro).toEqual(['--socket-path=/t/v.sock', '--shared-dir=/share', '--cache=never', '--sandbox=namespace', '--readonly', '--xattr']);
    expect(ro.some((a) => a.startsWith('--tag'))).toBe(false);
  });

  it('puts setpriv --pdeathsig KILL before a spawn prefix and again before the command, so both die with us', () => {
    const pdeathsig = ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'];
    expect(guardedCommand(['qemu', '-M', 'q35'], [], true)).toEqual([...pdeathsig, 'qemu', '-M', 'q35']);
    const nsenter = ['nsenter', '--mount=/proc/42/ns/mnt', '--'];
    expect(guardedCommand(['virtiofsd', '--shared-dir=/s'], nsenter, true)).toEqual([...pdeathsig, ...nsenter, ...pdeathsig, 'virtiofsd', '--shared-dir=/s']);
    expect(guardedCommand(['qemu'], nsenter, false)).toEqual([...nsenter, 'qemu']);
  });

  it('reads boot --virtiofs DIR[:TAG] (default tag kataShared)', () => {
    expect(parseVirtioFs('/srv/share')).toEqual({ tag: 'kataShared', sharedDir: '/srv/share' });
    expect(parseVirtioFs('/srv/share:myfs')).toEqual({ tag: 'myfs', sharedDir: '/srv/share' });
    expect(parseVirtioFs('/srv/a:b/share')).toEqual({ tag: 'kataShared', sharedDir: '/srv/a:b/share' });
    expect(parseVirtioFs('rel/dir').sharedDir).toBe(`${process.cwd()}/rel/dir`);
    expect(() => parseVirtioFs('/srv/share:')).toThrow(/DIR\[:TAG\]/);
  });
});
