#!/usr/bin/env bash
# The main job: build the guest kernel and image (agent as PID 1) and a busybox container rootfs,
# boot a dev VM under QEMU, and run real containers in it through the agent over the
# virtio-serial channel, with the calls a Kata runtime makes:
#  1. Kata's default path: the rootfs in the pod's shared directory, served by a real virtiofsd
#     over virtio-fs (tag kataShared), with the exact CreateSandbox and CreateContainer that Kata
#     3.19.1's runtime sends for virtio-fs (test/fixtures/kata-runtime-3.19.1), adapted only in ids,
#     the process args and the seccomp profile;
#  2. a devicemapper-style rootfs: the same busybox tree as an ext4 disk on virtio-blk.
# DestroySandbox powers the VM off; QEMU and virtiofsd end with it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/image-builder.js kernel
node dist/image-builder.js rootfs --out out/rootfs --init agent
node dist/image-builder.js image --rootfs out/rootfs --out out/rootfs.img >/dev/null
node dist/image-builder.js virtiofsd >/dev/null

# The container's rootfs: busybox-static and its applet links.
ctr=out/container-rootfs
rm -rf "$ctr" && mkdir -p "$ctr"/{bin,etc,proc,sys,dev,tmp,run}
cp /bin/busybox "$ctr/bin/busybox"
for applet in $(/bin/busybox --list); do [[ $applet == busybox ]] || ln -s busybox "$ctr/bin/$applet"; done
echo 'root:x:0:0:root:/:/bin/sh' >"$ctr/etc/passwd"
echo 'root:x:0:' >"$ctr/etc/group"

# 1. virtio-fs: the pod's shared directory as Kata's runtime lays it out on the host
# (/run/kata-containers/shared/sandboxes/<sandbox>/shared): <cid>/rootfs, and the files the
# container spec bind-mounts from the share (hosts, hostname, resolv.conf, termination-log).
SANDBOX_ID=$(printf %s kata-node-agent-dev-vm | sha256sum | cut -c1-64)
VFS_CID=$(printf %s kata-node-agent-dev-vm-virtiofs | sha256sum | cut -c1-64)
share=out/share
rm -rf "$share" out/requests && mkdir -p "$share" out/requests
mkdir -p "$share/$VFS_CID" && cp -a "$ctr" "$share/$VFS_CID/rootfs"
chmod 1777 "$share/$VFS_CID/rootfs/tmp" # the fixture's process runs as uid 101
echo 'Hello from busybox in the pod share, over virtio-fs (a real virtiofsd), run by crun under the Kata agent.' \
  >"$share/$VFS_CID/rootfs/etc/motd"
VFS_SCRIPT='cat /etc/motd; echo "uid: $(id -u)  hostname: $(cat /etc/hostname)  kernel: $(uname -r)"; echo "root: $(grep " / " /proc/mounts)"; echo "written through virtio-fs by uid $(id -u)" >/tmp/from-container'
node - "$SANDBOX_ID" "$VFS_CID" "$VFS_SCRIPT" "$share" out/requests <<'EOF'
// The runtime's requests, adapted: our sandbox and container ids wherever the runtime wrote them,
// busybox args, and no seccomp profile (what the runtime sends with its default
// disable_guest_seccomp = true; the fixture's nginx profile would stop crun itself).
const fs = require('node:fs');
const path = require('node:path');
const [sandboxId, cid, script, share, out] = process.argv.slice(2);
const fixture = (name) => fs.readFileSync(path.join('test/fixtures/kata-runtime-3.19.1', `${name}.json`), 'utf8');
const sandbox = JSON.parse(fixture('create-sandbox-virtiofs'));
const theirCid = JSON.parse(fixture('create-container-virtiofs')).container_id;
const container = JSON.parse(fixture('create-container-virtiofs').replaceAll(theirCid, cid).replaceAll(sandbox.sandbox_id, sandboxId));
sandbox.sandbox_id = sandboxId;
container.OCI.Process.Args = ['sh', '-c', script];
delete container.OCI.Linux.Seccomp;
fs.writeFileSync(path.join(out, 'create-sandbox.json'), JSON.stringify(sandbox, null, 2));
fs.writeFileSync(path.join(out, 'create-container.json'), JSON.stringify(container, null, 2));
const shared = '/run/kata-containers/shared/containers/';
const files = {
  hostname: `${container.OCI.Hostname}\n`,
  hosts: `127.0.0.1\tlocalhost\n10.244.1.7\t${container.OCI.Hostname}\n`,
  'resolv.conf': `${sandbox.dns.join('\n')}\n`,
  'termination-log': '',
};
for (const m of container.OCI.Mounts) {
  if (m.type !== 'bind' || !m.source.startsWith(shared)) continue;
  const name = m.source.slice(shared.length);
  const kind = Object.keys(files).find((k) => name.endsWith(`-${k}`));
  fs.writeFileSync(path.join(share, name), files[kind]);
}
console.log(`storage: ${JSON.stringify(sandbox.storages[0])}`);
EOF

# 2. virtio-blk: the same tree in a bare ext4 image (no partition table), attached at Kata's PCI
# path 02/00 (slot 0 behind the PCI bridge at root slot 2).
DISK_PCI_PATH=02/00
BLK_CID=busybox-blk
echo 'Hello from busybox on a virtio-blk disk, run by crun under the Kata agent.' >"$ctr/etc/motd"
node dist/image-builder.js image --rootfs "$ctr" --out out/container.img --layout raw >/dev/null

rm -f out/console.log
node dist/image-builder.js boot --image out/rootfs.img --agent-channel serial --console-log out/console.log \
  --virtiofs "$share:kataShared" --disk "out/container.img@$DISK_PCI_PATH" \
  --append "agent.server_addr=vsock://-1:1024,serial:///dev/virtio-ports/agent.channel.0" --timeout 300 \
  >out/boot.log 2>&1 &
boot=$!
# Whatever happens below, no QEMU or virtiofsd is left behind (the boot command stops both on SIGTERM).
trap 'kill "$boot" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do grep -q '"agent ready"' out/console.log 2>/dev/null && break; sleep 1; done
sock=$(grep -o '/tmp/kata-vm-[^ ,]*/agent.sock' out/boot.log)
ctl() { node dist/agent-ctl.js --addr "serial://$sock" --timeout 60 "$@"; }
echo "== agent reached over virtio-serial ($sock); $(grep -o 'virtiofsd pid [0-9]*' out/boot.log)"
ctl check
ctl version
ctl call GetGuestDetails '{"mem_block_size": true}'

echo "== CreateSandbox (Kata 3.19.1's request: the virtio-fs share kataShared, /dev/shm)"
ctl call CreateSandbox @out/requests/create-sandbox.json >/dev/null
echo "== CreateContainer (Kata 3.19.1's request: rootfs in the share over virtio-fs, uid 101), StartContainer"
ctl call CreateContainer @out/requests/create-container.json >/dev/null
ctl container start "$VFS_CID"
echo "== container output:"
ctl read "$VFS_CID"
echo "== container exit status: $(ctl wait "$VFS_CID")"
echo "== on the host, $(stat -c 'owned by uid %u' "$share/$VFS_CID/rootfs/tmp/from-container"): $(cat "$share/$VFS_CID/rootfs/tmp/from-container")"
ctl container rm "$VFS_CID" --timeout 30

echo "== CreateContainer (rootfs: the virtio-blk disk at PCI path $DISK_PCI_PATH), StartContainer"
ctl container create --id "$BLK_CID" --rootfs-blk "$DISK_PCI_PATH:ext4" -- \
  sh -c 'cat /etc/motd; echo "hostname: $(hostname)  kernel: $(uname -r)  pid: $$"; echo "cgroup: $(cat /proc/self/cgroup)"; read line; echo "bye ($line)"'
ctl container start "$BLK_CID"
echo "== ExecProcess ps in the container:"
ctl exec "$BLK_CID" --exec-id ps --wait -- ps -o pid,args
echo "== container output:"
ctl write-stdin "$BLK_CID" --data $'stdin closed\n' --close
ctl read "$BLK_CID"
echo "== container exit status: $(ctl wait "$BLK_CID")"
ctl container rm "$BLK_CID" --timeout 30
ctl sandbox destroy
wait "$boot"
trap - EXIT
qemu_pid=$(grep -o 'tcg pid [0-9]*\|kvm pid [0-9]*' out/boot.log | grep -o '[0-9]*$')
if kill -0 "$qemu_pid" 2>/dev/null || pgrep -f "$(dirname "$sock")/virtiofs.sock" >/dev/null; then
  echo "dev-vm: QEMU or virtiofsd outlived the VM" >&2
  exit 1
fi
echo "== guest powered off; QEMU and virtiofsd are gone ($(tail -1 out/boot.log | sed 's/^\[boot\] //')); console log in out/console.log"
