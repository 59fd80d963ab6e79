#!/bin/bash
# Engine benchmark: `run --rm IMAGE true`, `run -d` + `rm -f`, and `ps` with N containers, for berth, podman
# (with crun and with runc) and, where Debian's docker.io is installed, the docker CLI against dockerd —
# alternating in one run, so every engine sees the same machine. Prints medians and the ratio to podman+crun,
# and the resident memory of one container's supervisor: berth-monitor beside conmon (and containerd-shim).
#
# Usage: bench/engine.sh   (root; RUNS=20 PS_CONTAINERS=100 BERTH=path/to/berth)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-20}
ps_containers=${PS_CONTAINERS:-100}
berth=${BERTH:-}
for candidate in "$here/.build/release/berth" "$here/.build/debug/berth"; do
    [ -z "$berth" ] && [ -x "$candidate" ] && berth=$candidate
done
[ -x "$berth" ] || { echo "bench/engine: build berth first (swift build -c release)" >&2; exit 1; }
command -v podman >/dev/null || { echo "bench/engine: podman is needed (apt-get install podman)" >&2; exit 1; }

work=$(mktemp -d /tmp/berth-bench-engine.XXXXXX)
broot=$work/berth-root; brun=$work/berth-run
proot=$work/podman-root; prun=$work/podman-run
dockerd_pid=
bridge_was_there=$([ -e /sys/class/net/berth0 ] && echo 1 || true)
cleanup() {
    set +e
    "$berth" --root "$broot" --runroot "$brun" ps -aq --no-trunc 2>/dev/null | xargs -r "$berth" --root "$broot" --runroot "$brun" rm -f >/dev/null 2>&1
    podman --root "$proot" --runroot "$prun" rm -af >/dev/null 2>&1
    podman --root "$proot" --runroot "$prun" system reset -f >/dev/null 2>&1
    if [ -n "$dockerd_pid" ]; then docker -H "unix://$work/docker.sock" rm -f $(docker -H "unix://$work/docker.sock" ps -aq) >/dev/null 2>&1; kill "$dockerd_pid"; wait "$dockerd_pid" 2>/dev/null; fi
    for m in $(awk -v w="$work" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
    rm -rf "$work"
    # The default network's bridge, if this run made it (BENCH_NETWORK=bridge).
    [ -z "$bridge_was_there" ] && ip link delete berth0 2>/dev/null
}
trap cleanup EXIT INT TERM

echo "making the busybox image..." >&2
"$here/scripts/make-busybox-rootfs.sh" "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$berth" --root "$broot" --runroot "$brun" import "$work/rootfs.tar" bench:latest >/dev/null
pod() { podman --root "$proot" --runroot "$prun" --storage-driver overlay --cgroup-manager cgroupfs --events-backend file "$@"; }
pod import "$work/rootfs.tar" localhost/bench:latest >/dev/null
ulimits="--ulimit nofile=4096:4096 --ulimit nproc=4096:4096"   # this host's hard limits (see README)

engines=("berth" "podman-crun" "podman-runc")
declare -A command
command[berth]="$berth --root $broot --runroot $brun --network-config-dir $work/cni"   # its networks go with $work
crun=crun
# Debian's crun refuses hybrid cgroup hosts; bench/crun-hybrid.sh runs it in a namespace where it sees none.
[ -e /sys/fs/cgroup/unified/cgroup.controllers ] && crun=$here/bench/crun-hybrid.sh
command[podman-crun]="podman --root $proot --runroot $prun --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime $crun"
command[podman-runc]="podman --root $proot --runroot $prun --storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime runc"
image_of() { case $1 in berth|docker) echo bench:latest ;; *) echo localhost/bench:latest ;; esac; }
# Every engine without a network by default (dockerd is started with --bridge none); BENCH_NETWORK=bridge
# compares berth's and podman's default bridges (CNI plugins for both), without docker.
network=${BENCH_NETWORK:-none}
extra_of() { [ "$1" = berth ] && echo "--network $network" || echo "$ulimits --network $network"; }

if command -v dockerd >/dev/null && [ "${BENCH_DOCKER:-1}" = 1 ] && [ "$network" = none ]; then
    dockerd --data-root "$work/docker" --exec-root "$work/docker-exec" -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" \
        --bridge none --iptables=false >"$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 100); do docker -H "unix://$work/docker.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
    if docker -H "unix://$work/docker.sock" import "$work/rootfs.tar" bench:latest >/dev/null 2>&1; then
        engines+=("docker")
        command[docker]="docker -H unix://$work/docker.sock"
    fi
fi

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print 0} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }
declare -A runrm detach ps_time
for i in $(seq "$runs"); do
    for engine in "${engines[@]}"; do
        c=${command[$engine]}; image=$(image_of "$engine"); extra=$(extra_of "$engine")
        [ "$engine" = docker ] && extra="--network none"
        t0=$(now); $c run --rm $extra "$image" true >/dev/null; t1=$(now)
        runrm[$engine]+="$(( (t1 - t0) / 1000 )) "
        rmflags="-f"; [[ $engine == podman* ]] && rmflags="-f -t 0"   # podman's rm -f waits 10 s for SIGTERM first
        t0=$(now); id=$($c run -d $extra "$image" sleep 100); $c rm $rmflags "$id" >/dev/null; t1=$(now)
        detach[$engine]+="$(( (t1 - t0) / 1000 )) "
    done
done

echo "== $ps_containers containers each, then ps -a" >&2
for engine in "${engines[@]}"; do
    c=${command[$engine]}; image=$(image_of "$engine")
    for n in $(seq "$ps_containers"); do $c create $( [ "$engine" = berth ] || echo "--network none" ) "$image" true >/dev/null; done
done
for i in $(seq 10); do
    for engine in "${engines[@]}"; do
        c=${command[$engine]}
        t0=$(now); $c ps -a >/dev/null; t1=$(now)
        ps_time[$engine]+="$(( (t1 - t0) / 1000 )) "
    done
done

rss_of() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "== supervisor memory (2 s after start: the monitor trims its pages at 1 s)" >&2
bid=$(${command[berth]} run -d bench:latest sleep 100)
sleep 2
monitor_pid=$(python3 -c "import json,sys; print(json.load(open('$brun/monitor/$bid/state.json'))['monitorPid'])")
monitor_rss=$(rss_of "$monitor_pid")
pid=$(${command[podman-crun]} run -d $ulimits --network none localhost/bench:latest sleep 100)
sleep 2
conmon_pid=$(pgrep -f "conmon.*${pid:0:12}" | head -1 || true)
conmon_rss=$( [ -n "$conmon_pid" ] && rss_of "$conmon_pid" || echo "n/a")
shim_rss="n/a"
if [[ " ${engines[*]} " == *" docker "* ]]; then
    did=$(${command[docker]} run -d --network none bench:latest sleep 100)
    sleep 2
    shim_pid=$(pgrep -f "containerd-shim.*$did" | head -1 || true)
    [ -n "$shim_pid" ] && shim_rss=$(rss_of "$shim_pid")
fi

printf '\n%-14s %14s %10s %16s %10s %14s %10s\n' engine "run --rm (ms)" ratio "run -d + rm (ms)" ratio "ps -a @$ps_containers (ms)" ratio
base_run=$(echo ${runrm[podman-crun]} | tr ' ' '\n' | median)
base_detach=$(echo ${detach[podman-crun]} | tr ' ' '\n' | median)
base_ps=$(echo ${ps_time[podman-crun]} | tr ' ' '\n' | median)
for engine in "${engines[@]}"; do
    r=$(echo ${runrm[$engine]} | tr ' ' '\n' | median)
    d=$(echo ${detach[$engine]} | tr ' ' '\n' | median)
    p=$(echo ${ps_time[$engine]} | tr ' ' '\n' | median)
    awk -v e="$engine" -v r="$r" -v d="$d" -v p="$p" -v br="$base_run" -v bd="$base_detach" -v bp="$base_ps" \
        'BEGIN {printf "%-14s %14.1f %9.2fx %16.1f %9.2fx %14.1f %9.2fx\n", e, r/1000, r/br, d/1000, d/bd, p/1000, p/bp}'
done
printf '\nsupervisor RSS (KiB): berth-monitor %s, conmon %s, containerd-shim %s\n' "$monitor_rss" "$conmon_rss" "$shim_rss"
echo "(medians of $runs runs; ratio to podman+crun; ps -a medians of 10)"
