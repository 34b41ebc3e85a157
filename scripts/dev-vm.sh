#!/usr/bin/env bash
# The main job: build the guest kernel and image (agent as PID 1), boot a dev VM under QEMU and
# talk to the agent over the virtio-serial channel; DestroySandbox powers the VM off.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/image-builder.js kernel
node dist/image-builder.js rootfs --out out/rootfs --init agent
node dist/image-builder.js image --rootfs out/rootfs --out out/rootfs.img >/dev/null
node dist/image-builder.js boot --image out/rootfs.img --agent-channel serial --console-log out/console.log \
  --append "agent.server_addr=vsock://-1:1024,serial:///dev/virtio-ports/agent.channel.0" --timeout 300 \
  >out/boot.log 2>&1 &
boot=$!
for _ in $(seq 1 120); do grep -q '"agent ready"' out/console.log 2>/dev/null && break; sleep 1; done
sock=$(grep -o '/tmp/kata-vm-[^ ]*/agent.sock' out/boot.log)
ctl() { node dist/agent-ctl.js --addr "serial://$sock" --timeout 60 "$@"; }
echo "== agent reached over virtio-serial ($sock)"
ctl check
ctl version
ctl call GetGuestDetails '{"mem_block_size": true}'
ctl call CreateSandbox '{"hostname": "dev-pod", "sandbox_id": "dev"}'
ctl call ListInterfaces '{}'
ctl call DestroySandbox '{}'
wait "$boot"
echo "== guest powered off; console log in out/console.log"
