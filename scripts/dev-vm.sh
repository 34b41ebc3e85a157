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

# Requests as a Kata runtime fills them (proto field names), written to files for `call @FILE`.
req=out/requests
mkdir -p "$req"
cat >"$req/create-sandbox.json" <<EOF
{
  "hostname": "dev-pod",
  "dns": ["nameserver 10.0.2.3"],
  "storages": [
    {"driver": "ephemeral", "source": "shm", "fstype": "tmpfs",
     "options": ["noexec", "nosuid", "nodev", "mode=1777", "size=67108864"],
     "mount_point": "/run/kata-containers/sandbox/shm"}
  ],
  "sandbox_id": "dev"
}
EOF
rootfs=/run/kata-containers/shared/containers/$CID
cat >"$req/create-container.json" <<EOF
{
  "container_id": "$CID",
  "exec_id": "$CID",
  "storages": [
    {"driver": "blk", "source": "$DISK_PCI_PATH", "fstype": "ext4", "mount_point": "$rootfs"}
  ],
  "OCI": {
    "Version": "1.0.2",
    "Hostname": "dev-pod",
    "Root": {"Path": "$rootfs"},
    "Process": {
      "Args": ["sh", "-c", "cat /etc/motd; echo \"hostname: \$(hostname)  kernel: \$(uname -r)  pid: \$\$\"; echo \"cgroup: \$(cat /proc/self/cgroup)\"; echo waiting for stdin to close; read line; echo bye"],
      "Env": ["PATH=/bin", "HOME=/"],
      "Cwd": "/",
      "User": {"UID": 0, "GID": 0}
    },
    "Mounts": [
      {"destination": "/proc", "source": "proc", "type": "proc", "options": ["nosuid", "noexec", "nodev"]},
      {"destination": "/dev", "source": "tmpfs", "type": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
      {"destination": "/dev/pts", "source": "devpts", "type": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
      {"destination": "/sys", "source": "sysfs", "type": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
      {"destination": "/dev/shm", "source": "/run/kata-containers/sandbox/shm", "type": "bind", "options": ["rbind", "rprivate", "rw"]}
    ],
    "Linux": {
      "Namespaces": [{"Type": "pid"}, {"Type": "ipc"}, {"Type": "uts"}, {"Type": "mount"}],
      "CgroupsPath": "/kubepods/$CID"
    }
  }
}
EOF
cat >"$req/exec-ps.json" <<EOF
{
  "container_id": "$CID",
  "exec_id": "ps",
  "process": {"Args": ["ps", "-o", "pid,args"], "Env": ["PATH=/bin"], "Cwd": "/", "User": {"UID": 0, "GID": 0}}
}
EOF
echo "{\"container_id\": \"$CID\"}" >"$req/container.json"
for exec in "$CID" ps; do
  echo "{\"container_id\": \"$CID\", \"exec_id\": \"$exec\", \"len\": 65536}" >"$req/read-$exec.json"
  echo "{\"container_id\": \"$CID\", \"exec_id\": \"$exec\"}" >"$req/process-$exec.json"
done
echo "{\"container_id\": \"$CID\", \"timeout\": 30}" >"$req/remove-container.json"

# ReadStdout until the agent's empty reply (EOF), the bytes (base64 in proto-JSON) to the terminal.
decode='const r = JSON.parse(require("fs").readFileSync(0, "utf8")); if (!r.data) process.exit(3); process.stdout.write(Buffer.from(r.data, "base64"));'
read_stdout() {
  local rc
  while :; do
    rc=0
    ctl call ReadStdout "@$req/read-$1.json" | node -e "$decode" || rc=$?
    ((rc == 0)) || break
  done
  ((rc == 3)) || { echo "ReadStdout $1 failed ($rc)" >&2; return 1; }
}
exit_status() { ctl call WaitProcess "@$req/process-$1.json" | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).status ?? 0'; }

echo "== CreateSandbox, CreateContainer (rootfs: virtio-blk disk at PCI path $DISK_PCI_PATH), StartContainer"
ctl call CreateSandbox "@$req/create-sandbox.json"
ctl call CreateContainer "@$req/create-container.json"
ctl call StartContainer "@$req/container.json"
echo "== ExecProcess ps in the container:"
ctl call ExecProcess "@$req/exec-ps.json"
read_stdout ps
echo "== exec exit status: $(exit_status ps)"
ctl call CloseStdin "@$req/process-$CID.json"
echo "== container output:"
read_stdout "$CID"
echo "== container exit status: $(exit_status "$CID")"
ctl call RemoveContainer "@$req/remove-container.json"
ctl call DestroySandbox '{}'
wait "$boot"
trap - EXIT
echo "== guest powered off; console log in out/console.log"
