#!/bin/sh
# Builds test/go/bin/ttrpc-peer from Debian's Go packages only (offline, GOPATH mode):
# golang-go and the golang-*-dev packages listed in scripts/apt-packages/go.txt, whose sources
# live under /usr/share/gocode/src. No module proxy, no network.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/bin/ttrpc-peer"
command -v go >/dev/null 2>&1 || { echo "build.sh: 'go' not found (apt-get install golang-go)" >&2; exit 127; }
[ -d /usr/share/gocode/src/github.com/containerd/ttrpc ] || {
  echo "build.sh: containerd ttrpc sources missing (apt-get install golang-github-containerd-ttrpc-dev)" >&2; exit 127; }
mkdir -p "$here/bin"
cd "$here/ttrpc-peer"
GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOTOOLCHAIN=local \
  GOCACHE="$here/bin/.gocache" CGO_ENABLED=0 \
  go build -trimpath -o "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out"
