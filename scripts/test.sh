#!/usr/bin/env bash
# Runs every test: type check, unit, integration (real crun), interop (Go ttRPC) and VM tests
# (our kernel under QEMU). Installs what it needs first; the kernel build is cached.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] type check" >&2
npx --no-install tsc --noEmit -p .
if [[ -f image-builder/src/kernel/cli.ts ]]; then
  echo "[test] guest kernel (cached after the first build)" >&2
  node dist/image-builder.js kernel
fi
echo "[test] vitest" >&2
npx --no-install vitest run "$@"
