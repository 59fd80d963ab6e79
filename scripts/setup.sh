#!/bin/bash
# Installs what building and testing Berth needs on a fresh Debian bookworm machine (as root).
# Idempotent: apt-get runs only when a package is missing.
set -euo pipefail
packages=(
    busybox-static libseccomp-dev libarchive-dev libsqlite3-dev pkg-config   # build + fixtures (sqlite: engine metadata)
    runc crun procps iproute2 util-linux time jq tini catatonit   # runtime tests, bench, ps; tini-static for run --init, catatonit for podman --init
    skopeo umoci docker-registry podman libssl-dev python3 zstd  # image tests (issue 4); libcrypto for digests
    buildah docker.io containerd                               # the interop corpus (scripts/interop-corpus.sh)
    containernetworking-plugins iptables aardvark-dns          # engine networks: CNI plugins (/usr/lib/cni), names
    qemu-system-x86 linux-image-amd64                          # the cgroup v2 kernel for tests
    bats gawk gcc libc6-dev dpkg-dev                           # runc's bats suite (scripts/runc-bats.sh): runner, helpers, apt-get source
    uidmap passt slirp4netns fuse-overlayfs curl               # rootless berth (docs/rootless.md): newuidmap/newgidmap, pasta; podman rootless's too; curl for its port test
)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
command -v swift >/dev/null || { echo "setup: no Swift toolchain (expected at /opt/swift)" >&2; exit 1; }
