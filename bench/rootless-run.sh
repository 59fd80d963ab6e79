#!/bin/bash
# Rootless `run --rm IMAGE true`: berth next to podman, run as the same throwaway user (docs/rootless.md).
# Usage (as root): bench/rootless-run.sh [RUNS] [BERTH]   (default 10 runs, .build/debug/berth)
# Makes a user with a subuid range, imports the busybox rootfs into both stores, prints ms per run for each
# network (berth: pasta / none; podman 4.3: its default, slirp4netns / none, with runc: Debian's crun refuses
# rootless containers on a cgroup v1 hybrid host), then removes the user and everything it left.
set -euo pipefail
runs=${1:-10}
berth=$(realpath "${2:-$(dirname "$0")/../.build/debug/berth}")
user=berthbench$$
home=/tmp/$user-home
work=$(mktemp -d)
useradd -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 -U -m -d "$home" "$user"
uid=$(id -u "$user")
cleanup() {
    for _ in 1 2 3 4 5; do
        pids=$(ps -u "$user" -o pid= -o stat= | awk '$2 !~ /Z/ {print $1}')
        [ -z "$pids" ] && break
        kill -9 $pids 2>/dev/null || true
        sleep 0.2
    done
    userdel -f -r "$user" 2>/dev/null || true
    rm -rf "$home" "/tmp/berth-run-$uid" "$work"
}
trap cleanup EXIT
usermod --add-subuids 420000000-420065535 --add-subgids 420000000-420065535 "$user"
"$(dirname "$0")/../scripts/make-busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/rootfs.tar" . && chmod 755 "$work" && chmod 644 "$work/rootfs.tar"
as=(setpriv --reuid="$user" --regid="$user" --init-groups env -i PATH=/usr/bin:/bin HOME="$home" XDG_RUNTIME_DIR="/tmp/berth-run-$uid")
"${as[@]}" "$berth" images >/dev/null   # makes the runtime directory for both
"${as[@]}" "$berth" import "$work/rootfs.tar" busybox:latest >/dev/null
"${as[@]}" podman import "$work/rootfs.tar" localhost/busybox:latest >/dev/null 2>&1
measure() {
    "${as[@]}" "$@" >/dev/null 2>&1 || { echo "$*: fails: $("${as[@]}" "$@" 2>&1 | tail -1)"; return; }
    local start end
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do "${as[@]}" "$@" >/dev/null 2>&1; done
    end=$(date +%s%N)
    echo "$(( (end - start) / runs / 1000000 )) ms  $*"
}
measure "$berth" run --rm busybox true
measure "$berth" run --rm --network none busybox true
measure podman --runtime runc run --rm localhost/busybox true
measure podman --runtime runc run --rm --network none localhost/busybox true
