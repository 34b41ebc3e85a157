#!/usr/bin/env bash
# The main job: build the guest kernel and image, boot a dev VM under QEMU and talk to the agent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/image-builder.js kernel
node dist/image-builder.js all --out out
node dist/image-builder.js boot --image out/kata-containers.img "$@"
