#!/bin/bash
# Load: N containers in a row (`run --rm IMAGE true`, no network) and P at once from C clients, with berth and,
# for comparison, podman+crun in the same run. Prints the median time of the first and the last 50 runs (a
# growing cost shows as a ratio above 1), the wall time of the parallel burst, and what is left afterwards.
#
# Usage: bench/load.sh   (root; N=1000 CLIENTS=10 PER_CLIENT=5 BERTH=path/to/berth; PODMAN=0 to skip podman)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
total=${N:-1000}; clients=${CLIENTS:-10}; per_client=${PER_CLIENT:-5}
berth=${BERTH:-}
for candidate in "$here/.build/release/berth" "$here/.build/debug/berth"; do
    [ -z "$berth" ] && [ -x "$candidate" ] && berth=$candidate
done
[ -x "$berth" ] || { echo "bench/load: build berth first (swift build -c release)" >&2; exit 1; }
work=$(mktemp -d /tmp/berth-bench-load.XXXXXX)
cleanup() {
    set +e
    "$berth" --root "$work/root" --runroot "$work/run" ps -aq | xargs -r "$berth" --root "$work/root" --runroot "$work/run" rm -f >/dev/null 2>&1
    podman --root "$work/proot" --runroot "$work/prun" rm -af >/dev/null 2>&1
    podman --root "$work/proot" --runroot "$work/prun" system reset -f >/dev/null 2>&1
    for m in $(awk -v w="$work" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
"$here/scripts/make-busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
B() { "$berth" --root "$work/root" --runroot "$work/run" --network-config-dir "$work/cni" "$@"; }
P() { podman --root "$work/proot" --runroot "$work/prun" --storage-driver overlay --cgroup-manager cgroupfs --events-backend file \
        --runtime "$crun" "$@"; }
crun=crun
[ -e /sys/fs/cgroup/unified/cgroup.controllers ] && crun=$here/bench/crun-hybrid.sh
B import "$work/rootfs.tar" bench:latest >/dev/null
engines=(berth)
if [ "${PODMAN:-1}" = 1 ] && command -v podman >/dev/null; then
    P import "$work/rootfs.tar" localhost/bench:latest >/dev/null
    engines+=(podman)
fi
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
run_one() {
    case $1 in
        berth) B run --rm --network none bench:latest true ;;
        podman) P run --rm --network none --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 localhost/bench:latest true ;;
    esac
}
for engine in "${engines[@]}"; do
    : > "$work/$engine.times"
    for i in $(seq 1 "$total"); do
        start=$(now); run_one "$engine" >/dev/null; end=$(now)
        echo $(( (end - start) / 1000000 )) >> "$work/$engine.times"
    done
    first=$(head -50 "$work/$engine.times" | median); last=$(tail -50 "$work/$engine.times" | median)
    start=$(now)
    for c in $(seq 1 "$clients"); do
        ( for r in $(seq 1 "$per_client"); do run_one "$engine" >/dev/null || echo fail >> "$work/$engine.failures"; done ) &
    done
    wait
    burst=$(( ($(now) - start) / 1000000 ))
    failures=0
    [ -f "$work/$engine.failures" ] && failures=$(wc -l < "$work/$engine.failures")
    mounts=$(grep -c "$work" /proc/self/mountinfo || true)
    printf '%-7s %5d in a row: first 50 median %4s ms, last 50 %4s ms (ratio %.2f); %d×%d at once: %5d ms, %d failed; mounts left %d\n' \
        "$engine" "$total" "$first" "$last" "$(awk -v a="$last" -v b="$first" 'BEGIN {print a / b}')" "$clients" "$per_client" "$burst" "$failures" "$mounts"
done
