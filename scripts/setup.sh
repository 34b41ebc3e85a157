#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (as root) and builds it.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# 1. Debian packages: the union of scripts/apt-packages/*.txt.
mapfile -t wanted < <(cat scripts/apt-packages/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Node 20 or newer.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)); then
  echo "Node.js >= 20 is required (found ${node_major}); install the nodejs 20 package." >&2
  exit 1
fi

# Native addons build against the installed Node's headers, never downloaded ones.
if [[ -f /usr/include/node/node_api.h ]]; then export npm_config_nodedir=/usr; fi

# 3. npm packages (exactly the lock file).
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "installing npm packages"
  # npm ci (npm 11.19) rejects this lock over platform-only optional packages; install from the
  # lock without rewriting it instead.
  npm install --no-save --no-audit --no-fund --loglevel=error
fi

# 4. The native addon and the bundles.
if [[ -f agent/native/binding.gyp ]]; then
  if [[ ! -f agent/native/build/Release/kata_native.node || -n "$(find agent/native -newer agent/native/build/Release/kata_native.node -name '*.[ch]' -o -newer agent/native/build/Release/kata_native.node -name binding.gyp | head -1)" ]]; then
    log "building the native addon"
    npx --no-install node-gyp rebuild --directory agent/native --loglevel=error ${npm_config_nodedir:+--nodedir=$npm_config_nodedir} >/dev/null
  fi
fi
log "bundling"
node scripts/build.mjs

# 5. virtiofsd for virtio-fs boots (the host's, else Debian trixie's, staged and cached once).
node dist/image-builder.js virtiofsd >/dev/null || { [[ "${CI:-}" == true ]] && exit 1; log "no virtiofsd: virtio-fs VM tests will be skipped"; }
