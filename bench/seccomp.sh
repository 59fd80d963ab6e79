#!/bin/bash
# What the default seccomp profile costs a container: `berth run --rm IMAGE true` with the built-in profile
# and with `--security-opt seccomp=unconfined`, alternating run by run, median and 10th/90th percentiles
# of each. The first run of the default profile compiles it (libseccomp) into <root>/@seccomp; it is
# an uncounted warm-up, as are the first unconfined runs.
#
# Usage: bench/seccomp.sh   (root; RUNS=10 BERTH=path/to/berth, default .build/release/berth)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-10}
berth=${BERTH:-}
for candidate in "$here/.build/release/berth" "$here/.build/debug/berth"; do
    [ -z "$berth" ] && [ -x "$candidate" ] && berth=$candidate
done
[ -x "$berth" ] || { echo "bench/seccomp: build berth first (swift build -c release)" >&2; exit 1; }
work=$(mktemp -d /tmp/berth-bench-seccomp.XXXXXX)
b() { "$berth" --root "$work/root" --runroot "$work/run" --network-config-dir "$work/cni" "$@"; }
cleanup() {
    set +e
    b ps -aq --no-trunc 2>/dev/null | xargs -r "$berth" --root "$work/root" --runroot "$work/run" rm -f >/dev/null 2>&1
    for m in $(awk -v w="$work" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
"$here/scripts/make-busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
b import "$work/rootfs.tar" bench:latest >/dev/null

declare -A flags=([default]="" [unconfined]="--security-opt seccomp=unconfined")
one() {   # prints the wall time of one run in ms
    local start end
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    b run --rm --network none ${flags[$1]} bench:latest true >/dev/null
    end=$(date +%s%N)
    echo $(( (end - start) / 1000 ))
}
for kind in default unconfined; do one "$kind" >/dev/null; one "$kind" >/dev/null; done
declare -A samples
for ((i = 0; i < runs; i++)); do
    for kind in default unconfined; do samples[$kind]+="$(one "$kind") "; done
done
for kind in default unconfined; do
    printf '%s\n' ${samples[$kind]} | sort -n | awk -v kind="$kind" '{ v[NR] = $1 }
        END { printf "%-10s median %.1f ms  p10 %.1f  p90 %.1f  (n=%d)\n", kind,
              v[int((NR + 1) / 2)] / 1000, v[int(NR * 0.1) + 1] / 1000, v[int(NR * 0.9 + 0.5)] / 1000, NR }'
done
