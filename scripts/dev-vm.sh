#!/usr/bin/env bash
# The main job: build the guest kernel and image (agent as PID 1) and a busybox container disk,
# boot a dev VM under QEMU with the disk on virtio-blk, and run a real container from it through
# the agent over the virtio-serial channel, with the calls a Kata runtime makes. DestroySandbox
# powers the VM off.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/image-builder.js kernel
node dist/image-builder.js rootfs --out out/rootfs --init agent
node dist/image-builder.js image --rootfs out/rootfs --out out/rootfs.img >/dev/null

# The container's rootfs: busybox-static in a bare ext4 image (no partition table), attached as a
# virtio-blk disk at Kata's PCI path 02/00 (slot 0 behind the PCI bridge at root slot 2).
DISK_PCI_PATH=02/00
CID=busybox-1
ctr=out/container-rootfs
rm -rf "$ctr" && mkdir -p "$ctr"/{bin,etc,proc,sys,dev,tmp,run}
cp /bin/busybox "$ctr/bin/busybox"
for applet in $(/bin/busybox --list); do [[ $applet == busybox ]] || ln -s busybox "$ctr/bin/$applet"; done
echo 'root:x:0:0:root:/:/bin/sh' >"$ctr/etc/passwd"
echo 'root:x:0:' >"$ctr/etc/group"
echo 'Hello from busybox on a virtio-blk disk, run by crun under the Kata agent.' >"$ctr/etc/motd"
node dist/image-builder.js image --rootfs "$ctr" --out out/container.img --layout raw >/dev/null

rm -f out/console.log
node dist/image-builder.js boot --image out/rootfs.img --agent-channel serial --console-log out/console.log \
  --disk "out/container.img@$DISK_PCI_PATH" \
  --append "agent.server_addr=vsock://-1:1024,serial:///dev/virtio-ports/agent.channel.0" --timeout 300 \
  >out/boot.log 2>&1 &
boot=$!
# Whatever happens below, no QEMU is left behind (the boot command stops it on SIGTERM).
trap 'kill "$boot" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do grep -q '"agent ready"' out/console.log 2>/dev/null && break; sleep 1; done
sock=$(grep -o '/tmp/kata-vm-[^ ]*/agent.sock' out/boot.log)
ctl() { node dist/agent-ctl.js --addr "serial://$sock" --timeout 60 "$@"; }
echo "== agent reached over virtio-serial ($sock)"
ctl check
ctl version
ctl call GetGuestDetails '{"mem_block_size": true}'

# The container flow with agent-ctl's verbs; each sends the request a Kata runtime sends
# (`call METHOD JSON` sends any request as written; test/vm/container-vm.test.ts does that).
echo "== CreateSandbox"
ctl sandbox create --id dev --hostname dev-pod --dns 10.0.2.3 --shared-fs none
echo "== CreateContainer (rootfs: the virtio-blk disk at PCI path $DISK_PCI_PATH), StartContainer"
ctl container create --id "$CID" --rootfs-blk "$DISK_PCI_PATH:ext4" -- \
  sh -c 'cat /etc/motd; echo "hostname: $(hostname)  kernel: $(uname -r)  pid: $$"; echo "cgroup: $(cat /proc/self/cgroup)"; read line; echo "bye ($line)"'
ctl container start "$CID"
echo "== ExecProcess ps in the container:"
ctl exec "$CID" --exec-id ps --wait -- ps -o pid,args
echo "== container output:"
ctl write-stdin "$CID" --data $'stdin closed\n' --close
ctl read "$CID"
echo "== container exit status: $(ctl wait "$CID")"
ctl container rm "$CID" --timeout 30
ctl sandbox destroy
wait "$boot"
trap - EXIT
echo "== guest powered off; console log in out/console.log"
