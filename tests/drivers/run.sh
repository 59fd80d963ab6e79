#!/usr/bin/env bash
# Drives berth-runtime, unchanged, through real container engines on this host:
#   podman --runtime PATH               (run, exec, stop, kill, pause, rm, logs, top, resources, mounts, networks)
#   containerd: ctr run --runc-binary   (io.containerd.runc.v2 shim, BinaryName option), and a pod through the CRI
#                                       plugin with runtime_handler berth (a RuntimeClass), by tests/drivers/cri.py
#   dockerd --add-runtime / daemon.json "runtimes"
# Everything lives in a temp dir (engine roots, sockets, configs); daemons are started by hand and stopped at the end.
# One line per check (ok / FAIL / skip), then "N passed, M failed"; exits non-zero if anything failed.
# A section whose engine cannot run a container here with runc either prints "skip: reason" (a host problem, not berth's).
# Usage (as root): tests/drivers/run.sh [BERTH_RUNTIME]     default .build/debug/berth-runtime
# Given runc (tests/drivers/run.sh /usr/sbin/runc) every check passes: a failure with berth-runtime is a difference.
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
src=${1:-$repo/.build/debug/berth-runtime}
case $src in /*) ;; *) src=$PWD/$src ;; esac
started=$SECONDS
pass=0 fail=0

if [ "$(id -u)" != 0 ]; then echo "FAIL drivers: must run as root"; echo "0 passed, 1 failed"; exit 1; fi
if [ ! -x "$src" ]; then echo "FAIL drivers: no berth-runtime binary at $src"; echo "0 passed, 1 failed"; exit 1; fi

T=$(mktemp -d /tmp/berth-drivers.XXXXXX)
tag=bd$$
B=$T/bin/berth-runtime          # the engines run this copy (an absolute path, as users configure it)
mkdir -p "$T/bin" && cp "$src" "$B"
runc_bin=$(command -v runc || echo /usr/sbin/runc)
docker_cli=/usr/bin/docker      # Debian's client, same version as its dockerd (a newer one may shadow it on PATH)
log=$T/check.out

# ---------- reporting ----------
ok()   { pass=$((pass + 1)); echo "ok   $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL $1"; [ -s "$log" ] && sed -n '1,20p' "$log" | sed 's/^/     | /'; }
skip() { echo "skip: $1"; }
# check NAME CMD...: runs CMD (usually a check_ function) in a subshell; its output is shown only on failure.
check() {
    local name=$1; shift
    if ( "$@" ) >"$log" 2>&1; then ok "$name"; else bad "$name"; fi
}
eq()  { [ "$1" = "$2" ] && return 0; printf 'expected: %s\ngot:      %s\n' "$2" "$1"; return 1; }
has() { grep -q -- "$2" <<<"$1" && return 0; printf 'expected to contain: %s\ngot: %s\n' "$2" "$1"; return 1; }
# to SECONDS CMD...: a time limit for each engine command, so a hung engine fails a check instead of the script
to()  { local s=$1; shift; timeout -k 5 "$s" "$@"; }
now_ms() { date +%s%3N; }

# ---------- cleanup ----------
# Kills processes this script started: its daemons (pid files) and the shims/conmons whose command line names $T.
kill_ours() {
    local pid
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$pid" = $$ ] && continue
        { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "$T/" || continue
        case $(cat "/proc/$pid/comm" 2>/dev/null) in
            containerd-shim*|conmon|containerd|dockerd|sleep) kill -9 "$pid" 2>/dev/null ;;
        esac
    done
}
stop_daemon() { # stop_daemon PIDFILE
    local pid; pid=$(cat "$1" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
}
cleanup() {
    trap - EXIT INT TERM
    # podman: remove containers (runs berth-runtime delete), then images
    if [ -n "${pm_ready:-}" ]; then
        pm rm -a -f -t 0 >/dev/null 2>&1
        pm rmi -a -f >/dev/null 2>&1
    fi
    # containerd: tasks and containers of our namespace
    if [ -S "$T/ctd/containerd.sock" ]; then
        for c in $(ctr_ c ls -q 2>/dev/null); do
            ctr_ t kill -s KILL "$c" >/dev/null 2>&1; sleep 0.2
            ctr_ t rm -f "$c" >/dev/null 2>&1; ctr_ c rm "$c" >/dev/null 2>&1
        done
    fi
    stop_daemon "$T/ctd/containerd.pid"
    # docker: containers, then the daemon (it stops its own containerd)
    if [ -S "$T/dkr/docker.sock" ]; then
        ids=$(dk ps -aq 2>/dev/null); [ -n "$ids" ] && dk rm -f $ids >/dev/null 2>&1
    fi
    stop_daemon "$T/dkr/docker.pid"
    sleep 0.5
    kill_ours
    # berth state that an engine may have left in the default root for our containers
    for id in $(cat "$T"/ids.* 2>/dev/null); do
        "$B" delete --force "$id" >/dev/null 2>&1
    done
    # a CRI pod interrupted midway: only containers whose bundle is in our temp dir
    "$B" --root /run/containerd/runc/k8s.io list 2>/dev/null | awk -v t="$T/" 'index($4, t) == 1 { print $1 }' |
        while read -r id; do "$B" --root /run/containerd/runc/k8s.io delete --force "$id" >/dev/null 2>&1; done
    rm -rf "/run/containerd/runc/$tag" "/run/containerd/io.containerd.runtime.v2.task/$tag" 2>/dev/null
    rmdir /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd/io.containerd.runtime.v2.task /run/containerd/fifo /run/containerd/s \
        /run/containerd 2>/dev/null   # only if empty: ctr and the shim make these whatever the daemon's state dir
    # mounts under the temp dir, deepest first
    findmnt -rn -o TARGET 2>/dev/null | grep "^$T/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    # cgroups made for our containers: ctr's namespace parent, dockerd's --cgroup-parent
    for d in /sys/fs/cgroup/*/"$tag" /sys/fs/cgroup/"$tag" /sys/fs/cgroup/*/"$tag-docker" /sys/fs/cgroup/"$tag-docker" \
        /sys/fs/cgroup/*/"$tag-k8s" /sys/fs/cgroup/"$tag-k8s" \
        $(find /sys/fs/cgroup -maxdepth 5 -type d -name "$tag-rel" 2>/dev/null); do
        [ -d "$d" ] || continue
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------- packages ----------
need=()
for p in podman containerd docker.io busybox-static file iptables util-linux python3-grpcio; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$T/apt.log" 2>&1 ||
        { echo "apt-get install failed:"; tail -5 "$T/apt.log"; }
fi

# ---------- the image: busybox from Debian's busybox-static ----------
mkdir -p "$T/image"
if sh "$repo/scripts/make-busybox-rootfs.sh" "$T/image/rootfs" >"$T/image/log" 2>&1 &&
    tar -C "$T/image/rootfs" -cf "$T/image/rootfs.tar" .; then
    :
else
    echo "FAIL image: make-busybox-rootfs.sh"; sed 's/^/     | /' "$T/image/log"; fail=$((fail + 1))
fi
IMG=localhost/busybox:latest

# =====================================================================================================
# podman
# =====================================================================================================
pm() { to 120 podman --root "$T/podman/root" --runroot "$T/podman/runroot" --tmpdir "$T/podman/tmp" \
    --cgroup-manager cgroupfs --events-backend file "$@"; }
pb() { pm --runtime "$B" "$@"; }

section_podman() {
    command -v podman >/dev/null || { skip "podman: not installed"; return; }
    mkdir -p "$T/podman/tmp" "$T/podman/vol"
    # Host quirk: the hard RLIMIT_NOFILE/NPROC are low and CAP_SYS_RESOURCE is missing, so podman's default ulimits
    # (nofile 1048576) fail with any runtime; this containers.conf, used only here, lowers them.
    # It also names berth-runtime as a runtime, so `podman --runtime berth` works as well as a path.
    cat >"$T/podman/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
events_logger = "file"
cgroup_manager = "cgroupfs"
[engine.runtimes]
berth = ["$B"]
EOF
    export CONTAINERS_CONF=$T/podman/containers.conf
    if ! pm import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin' \
        "$T/image/rootfs.tar" "$IMG" >"$log" 2>&1; then
        skip "podman: cannot import an image here: $(tail -1 "$log")"; return
    fi
    pm_ready=1
    if ! pm --runtime "$runc_bin" run --rm "$IMG" true >"$log" 2>&1; then
        skip "podman: runc cannot run a container under podman here either: $(tail -1 "$log")"; return
    fi

    check "podman run --rm: output and exit code" check_pm_run
    check "podman --runtime berth (containers.conf [engine.runtimes])" check_pm_named
    check "podman run -t (console socket)" check_pm_tty
    check "podman run -d, ps shows it Up" check_pm_detach
    check "podman exec: output and exit code" check_pm_exec
    check "podman exec -i: stdin" check_pm_exec_i
    check "podman exec -t" check_pm_exec_t
    check "podman exec --user -w -e" check_pm_exec_opts
    check "podman exec -d" check_pm_exec_d
    check "podman logs" check_pm_logs
    check "podman top" check_pm_top
    check "podman pause / unpause" check_pm_pause
    check "podman kill -s TERM: trap runs, exit code" check_pm_kill
    check "podman stop: SIGTERM handled" check_pm_stop
    check "podman stop -t 2: SIGTERM ignored, SIGKILL after timeout" check_pm_stop_kill
    check "podman update --cpus --memory (runtime update)" check_pm_update
    check "podman start: an exited container again" check_pm_restart
    check "podman rm -f: running container" check_pm_rmf
    check "podman run --memory --pids-limit --cpus: cgroup limits" check_pm_limits
    check "podman run --memory 16m: OOM kill, exit 137" check_pm_oom
    check "podman run --cpuset-cpus --cpu-shares --oom-score-adj" check_pm_cpu
    check "podman run --cgroupns private" check_pm_cgroupns
    check "podman run: default seccomp filter; seccomp=unconfined; no-new-privileges" check_pm_seccomp
    check "podman run --user 65534:65534" check_pm_user
    check "podman run --user 1000:1000 --group-add 27" check_pm_groups
    check "podman run --cap-drop all" check_pm_caps
    check "podman run --read-only (tmpfs /tmp still writable)" check_pm_readonly
    check "podman run -v bind mount, read and write" check_pm_volume
    check "podman run -e -w --hostname" check_pm_env
    check "podman run --init (catatonit as pid 1)" check_pm_init
    check "podman run --privileged" check_pm_privileged
    check "podman run --device /dev/fuse" check_pm_device
    check "podman run --pid host --uts host" check_pm_hostns
    check "podman run --tmpfs size=, --shm-size" check_pm_tmpfs
    check "podman run --sysctl" check_pm_sysctl
    check "podman run --uidmap/--gidmap (user namespace)" check_pm_userns
    check "podman run --network none: only lo, and lo is up" check_pm_net_none
    check "podman run (default network, netavark): eth0 addressed, lo up" check_pm_net_default
    check "podman: no berth state or cgroup left after rm" check_pm_gone
}

check_pm_run() {
    out=$(pb run --rm "$IMG" sh -c 'echo hello from podman; exit 3' 2>&1); rc=$?
    eq "$out" "hello from podman" && eq "$rc" 3
}
check_pm_named() {
    out=$(pm --runtime berth run --rm "$IMG" echo named 2>&1); rc=$?
    eq "$out" named && eq "$rc" 0 || return 1
    id=$(pm --runtime berth create "$IMG" true) && pm inspect -f '{{.OCIRuntime}}' "$id" | grep -qx berth
    r=$?; pm rm -f "$id" >/dev/null; return $r
}
check_pm_tty() {
    out=$(pb run --rm -t "$IMG" tty 2>&1); rc=$?
    has "$out" '^/dev/pts/' && eq "$rc" 0
}
check_pm_detach() {
    pb run -d --name bd-main "$IMG" sh -c 'echo started; trap "echo got TERM; exit 7" TERM; while true; do sleep 0.1; done' || return 1
    pm ps --no-trunc -q >>"$T/ids.podman"
    sleep 0.5
    has "$(pm ps --filter name=bd-main --format '{{.Status}}')" '^Up'
}
check_pm_exec() {
    out=$(pb exec bd-main sh -c 'echo in exec $(id -u); cat /proc/1/cmdline | tr "\0" " "; exit 5' 2>&1); rc=$?
    has "$out" 'in exec 0' && has "$out" 'trap' && eq "$rc" 5
}
check_pm_exec_i() {
    out=$(printf 'line1\nline2\n' | pb exec -i bd-main sh -c 'wc -l' 2>&1); rc=$?
    eq "$(echo $out)" 2 && eq "$rc" 0
}
check_pm_exec_t() {
    out=$(pb exec -t bd-main tty 2>&1); rc=$?
    has "$out" '^/dev/pts/' && eq "$rc" 0
}
check_pm_logs() { has "$(pb logs bd-main 2>&1)" '^started$'; }
check_pm_top() {
    out=$(pb top bd-main 2>&1) || { echo "$out"; return 1; }
    has "$out" 'trap' && has "$out" 'sleep'
}
check_pm_pause() {
    id=$(pm inspect -f '{{.Id}}' bd-main)
    pb pause bd-main >/dev/null || return 1
    eq "$(pm inspect -f '{{.State.Status}}' bd-main)" paused || return 1
    eq "$("$B" state "$id" | sed -n 's/.*"status" *: *"\([a-z]*\)".*/\1/p')" paused || return 1
    pb unpause bd-main >/dev/null || return 1
    eq "$(pm inspect -f '{{.State.Status}}' bd-main)" running
}
check_pm_kill() {
    pb run -d --name bd-kill "$IMG" sh -c 'trap "exit 9" TERM; while true; do sleep 0.1; done' >/dev/null || return 1
    sleep 0.3
    pb kill -s TERM bd-kill >/dev/null || return 1
    eq "$(pm wait bd-kill)" 9
}
check_pm_stop() {
    t0=$(now_ms); pb stop -t 10 bd-main >/dev/null || return 1; t1=$(now_ms)
    eq "$(pm inspect -f '{{.State.Status}} {{.State.ExitCode}}' bd-main)" "exited 7" || return 1
    has "$(pb logs bd-main)" 'got TERM' || return 1
    [ $((t1 - t0)) -lt 5000 ] || { echo "stop took $((t1 - t0)) ms"; return 1; }
}
check_pm_stop_kill() {
    pb run -d --name bd-stubborn "$IMG" sh -c 'trap "" TERM; while true; do sleep 0.1; done' >/dev/null || return 1
    sleep 0.3
    t0=$(now_ms); pb stop -t 2 bd-stubborn >/dev/null 2>&1 || return 1; t1=$(now_ms)
    eq "$(pm inspect -f '{{.State.Status}} {{.State.ExitCode}}' bd-stubborn)" "exited 137" || return 1
    [ $((t1 - t0)) -ge 1900 ] && [ $((t1 - t0)) -lt 8000 ] || { echo "stop took $((t1 - t0)) ms"; return 1; }
}
check_pm_exec_opts() {
    out=$(pb exec --user 65534 -w /tmp -e FOO=bar bd-main sh -c 'echo $(id -u) $(pwd) $FOO' 2>&1)
    eq "$out" "65534 /tmp bar"
}
check_pm_exec_d() {
    pb exec -d bd-main sh -c 'echo detached > /tmp/exec-d' >/dev/null || return 1
    for _ in $(seq 1 30); do [ "$(pb exec bd-main cat /tmp/exec-d 2>/dev/null)" = detached ] && return 0; sleep 0.1; done
    echo "detached exec did not run"; return 1
}
check_pm_update() {
    pb run -d --name bd-upd --memory 64m "$IMG" sleep 600 >/dev/null || return 1
    pb update --cpus 0.25 --memory 48m bd-upd >/dev/null || { r=1; }
    out=$(pb exec bd-upd sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null ||
        cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max' 2>&1)
    pb rm -f -t 0 bd-upd >/dev/null
    [ -z "${r:-}" ] || return 1
    eq "$(echo $out)" "50331648 25000" || eq "$(echo $out)" "50331648 25000 100000"
}
check_pm_restart() {
    pb start bd-main >/dev/null || return 1
    sleep 0.3
    eq "$(pm inspect -f '{{.State.Status}}' bd-main)" running || return 1
    out=$(pb exec bd-main echo again 2>&1); eq "$out" again
}
check_pm_rmf() {
    pm ps -a --no-trunc -q >>"$T/ids.podman"
    pb rm -f -t 0 bd-main bd-stubborn bd-kill >/dev/null || return 1
    eq "$(pm ps -a -q | wc -l)" 0
}
check_pm_limits() {
    out=$(pb run --rm --memory 64m --pids-limit 50 --cpus 0.5 "$IMG" sh -c '
        for f in memory/memory.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us memory.max pids.max cpu.max; do
            [ -f /sys/fs/cgroup/$f ] && echo "$f $(cat /sys/fs/cgroup/$f)"
        done; true' 2>&1) || { echo "$out"; return 1; }
    if has "$out" 'memory.limit_in_bytes' >/dev/null; then   # cgroup v1
        has "$out" 'memory.limit_in_bytes 67108864' && has "$out" 'pids.max 50' &&
            has "$out" 'cfs_quota_us 50000' && has "$out" 'cfs_period_us 100000'
    else
        has "$out" 'memory.max 67108864' && has "$out" 'pids.max 50' && has "$out" 'cpu.max 50000 100000'
    fi
}
check_pm_oom() {
    pb run --rm --memory 16m --memory-swap 16m "$IMG" sh -c 'x=$(head -c 64000000 /dev/zero | tr "\0" a); echo survived' >/dev/null 2>&1
    eq "$?" 137
}
check_pm_cpu() {
    out=$(pb run --rm --cpuset-cpus 0 --cpu-shares 512 --oom-score-adj 100 "$IMG" sh -c '
        cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpuset.cpus
        cat /proc/self/oom_score_adj' 2>&1)
    eq "$(echo $out)" "0 512 100" || { has "$out" '^0$' && has "$out" '^100$'; }
}
check_pm_cgroupns() {
    out=$(pb run --rm --cgroupns private --pids-limit 42 "$IMG" sh -c 'cat /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max' 2>&1)
    has "$out" '^[0-9]*:pids:/$' && has "$out" '^42$'
}
check_pm_seccomp() {
    eq "$(pb run --rm "$IMG" grep Seccomp: /proc/self/status 2>&1)" "Seccomp:	2" &&
        eq "$(pb run --rm --security-opt seccomp=unconfined "$IMG" grep Seccomp: /proc/self/status 2>&1)" "Seccomp:	0" &&
        eq "$(pb run --rm --security-opt no-new-privileges "$IMG" grep NoNewPrivs /proc/self/status 2>&1)" "NoNewPrivs:	1"
}
check_pm_groups() {
    eq "$(pb run --rm --user 1000:1000 --group-add 27 "$IMG" id 2>&1)" "uid=1000(1000) gid=1000(1000) groups=27,1000(1000)"
}
check_pm_user() {
    out=$(pb run --rm --user 65534:65534 "$IMG" id 2>&1)
    eq "$out" "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
}
check_pm_caps() {
    out=$(pb run --rm --cap-drop all "$IMG" grep -E '^Cap(Eff|Bnd)' /proc/self/status 2>&1)
    eq "$(echo $out)" "CapEff: 0000000000000000 CapBnd: 0000000000000000"
}
check_pm_readonly() {
    out=$(pb run --rm --read-only "$IMG" sh -c 'touch /x 2>&1; echo rc=$?; touch /tmp/y && echo tmp-ok' 2>&1)
    has "$out" 'Read-only file system' && has "$out" 'rc=1' && has "$out" 'tmp-ok'
}
check_pm_volume() {
    echo from-host >"$T/podman/vol/in"
    out=$(pb run --rm -v "$T/podman/vol:/data" "$IMG" sh -c 'cat /data/in; echo from-container > /data/out' 2>&1)
    eq "$out" from-host && eq "$(cat "$T/podman/vol/out" 2>&1)" from-container || return 1
    out=$(pb run --rm -v "$T/podman/vol:/data:ro" "$IMG" sh -c 'echo x > /data/ro 2>&1; echo rc=$?' 2>&1)
    has "$out" 'rc=1' && [ ! -e "$T/podman/vol/ro" ]
}
check_pm_env() {
    out=$(pb run --rm -e FOO=bar -w /tmp --hostname bdhost "$IMG" sh -c 'echo $FOO $(pwd) $(hostname)' 2>&1)
    eq "$out" "bar /tmp bdhost"
}
check_pm_init() {
    out=$(pb run --rm --init "$IMG" sh -c 'tr "\0" " " </proc/1/cmdline; echo; echo pid $$' 2>&1)
    has "$out" '^/run/podman-init -- sh' && ! has "$out" '^pid 1$' >/dev/null
}
check_pm_privileged() {
    want=$(awk '/^CapBnd/ { print $2 }' /proc/self/status)
    out=$(pb run --rm --privileged "$IMG" sh -c 'grep ^CapEff /proc/self/status; [ -e /dev/loop-control ] && echo host-devices; mount | grep " /sys " | grep -q "(rw" && echo sys-rw' 2>&1)
    has "$out" "CapEff:.$want" && has "$out" '^host-devices$' && has "$out" '^sys-rw$'
}
check_pm_device() {
    out=$(pb run --rm --device /dev/fuse "$IMG" sh -c 'ls -l /dev/fuse && head -c0 /dev/fuse 2>&1 | head -1; echo rc=$?' 2>&1)
    has "$out" '^crw.* 10, *229 .*/dev/fuse' && ! has "$out" 'Operation not permitted' >/dev/null
}
check_pm_hostns() {
    out=$(pb run --rm --pid host --uts host "$IMG" sh -c 'echo $(hostname); [ -d /proc/'$$' ] && echo sees-host-pid' 2>&1)
    has "$out" "^$(hostname)\$" && has "$out" '^sees-host-pid$'
}
check_pm_tmpfs() {
    out=$(pb run --rm --tmpfs /scratch:size=1m --shm-size 8m "$IMG" sh -c 'df -k /scratch /dev/shm | tail -2' 2>&1)
    has "$out" '^tmpfs  *1024 .*/scratch$' && has "$out" '^shm  *8192 .*/dev/shm$'
}
check_pm_sysctl() {
    out=$(pb run --rm --sysctl net.ipv4.ip_forward=1 --sysctl kernel.msgmax=12345 "$IMG" sh -c 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax' 2>&1)
    eq "$(echo $out)" "1 12345"
}
check_pm_userns() {
    out=$(pb run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$IMG" sh -c 'cat /proc/self/uid_map; id -u; stat -c %u /bin/busybox' 2>&1)
    eq "$(echo $out)" "0 100000 65536 0 0"
}
check_pm_net_none() {
    out=$(pb run --rm --network none "$IMG" ip -o link 2>&1) || { echo "$out"; return 1; }
    eq "$(grep -c . <<<"$out")" 1 && has "$out" '^1: lo:' || return 1
    has "$out" 'LOOPBACK,UP' || { echo "(runc and crun bring lo up in a network namespace they create)"; return 1; }
}
check_pm_net_default() {
    out=$(pb run --rm "$IMG" sh -c 'ip -o link show lo; ip -o -4 addr show eth0' 2>&1) || { echo "$out"; return 1; }
    has "$out" 'lo: <LOOPBACK,UP' && has "$out" 'eth0 *inet [0-9]'
}
check_pm_gone() {
    sort -u "$T/ids.podman" >"$T/ids.podman.u"; mv "$T/ids.podman.u" "$T/ids.podman"
    [ -s "$T/ids.podman" ] || { echo "no container ids were recorded"; return 1; }
    left=$("$B" list -q 2>/dev/null | grep -F -x -f "$T/ids.podman")
    [ -z "$left" ] || { echo "berth-runtime list still has: $left"; return 1; }
    for id in $(cat "$T/ids.podman"); do
        for d in /sys/fs/cgroup/*/libpod_parent/libpod-"$id" /sys/fs/cgroup/libpod_parent/libpod-"$id"; do
            [ -d "$d" ] && { echo "cgroup left: $d"; return 1; }
        done
    done
    return 0
}

# =====================================================================================================
# containerd + ctr
# =====================================================================================================
ctr_() { to 60 ctr --address "$T/ctd/containerd.sock" -n "$tag" "$@"; }
# crun: ctr run with berth-runtime as the runc binary of the io.containerd.runc.v2 shim
crun_() { ctr_ run --runc-binary "$B" "$@"; }

PAUSE=localhost/berth-pause:latest    # the pod sandbox image for CRI: busybox sleeping
section_containerd() {
    command -v containerd >/dev/null && command -v ctr >/dev/null || { skip "containerd: not installed"; return; }
    mkdir -p "$T/ctd"
    # The CRI plugin's runtime table is what a Kubernetes RuntimeClass `handler: berth` selects (docs/drivers.md).
    cat >"$T/ctd/config.toml" <<EOF
version = 2
root = "$T/ctd/root"
state = "$T/ctd/state"
[grpc]
  address = "$T/ctd/containerd.sock"
[ttrpc]
  address = "$T/ctd/containerd.sock.ttrpc"
[debug]
  address = "$T/ctd/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  sandbox_image = "$PAUSE"
  # host quirk: without CAP_SYS_RESOURCE the pod sandbox's oom_score_adj -998 fails with runc too
  restrict_oom_score_adj = true
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth.options]
  BinaryName = "$B"
EOF
    containerd --config "$T/ctd/config.toml" >"$T/ctd/log" 2>&1 &
    echo $! >"$T/ctd/containerd.pid"
    for _ in $(seq 1 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
    if ! ctr_ version >/dev/null 2>&1; then skip "containerd: daemon did not start: $(tail -1 "$T/ctd/log")"; return; fi
    if ! pm save --format docker-archive -o "$T/ctd/busybox.tar" "$IMG" >"$log" 2>&1 ||
        ! ctr_ image import "$T/ctd/busybox.tar" >"$log" 2>&1; then
        skip "containerd: cannot import the image: $(tail -1 "$log")"; return
    fi
    if ! ctr_ run --runc-binary "$runc_bin" --rm "$IMG" bd-baseline true >"$log" 2>&1; then
        skip "containerd: runc cannot run a container under containerd here either: $(tail -1 "$log")"; return
    fi

    check "ctr run --runc-binary --rm: output and exit code" check_ctr_run
    check "ctr run -d, ctr task ls RUNNING" check_ctr_detach
    check "ctr task exec: output and exit code" check_ctr_exec
    check "ctr task ps" check_ctr_ps
    check "ctr task pause / resume" check_ctr_pause
    check "ctr task kill (SIGTERM): trap runs, task STOPPED with its code" check_ctr_kill
    check "ctr task rm + container rm: berth state gone" check_ctr_delete
    check "ctr task kill -s KILL of a TERM-ignoring task" check_ctr_killkill
    check "ctr run --memory-limit: cgroup limit" check_ctr_memory
    check "ctr run: new network namespace has lo up" check_ctr_lo
    check "containerd CRI runtime table: berth (runc.v2 + BinaryName) loaded" check_ctr_cri
    cri_pod
}

# A pod through the CRI plugin, as the kubelet makes it for a pod with runtimeClassName: berth (tests/drivers/cri.py)
cri_pod() {
    if ! /usr/bin/python3 -c 'import grpc' 2>/dev/null; then skip "CRI pod: python3-grpcio missing"; return; fi
    if ! pm import --change 'CMD ["/bin/sleep", "2147483647"]' "$T/image/rootfs.tar" "$PAUSE" >"$log" 2>&1 ||
        ! pm save --format docker-archive -o "$T/ctd/pause.tar" "$PAUSE" >>"$log" 2>&1 ||
        ! to 60 ctr --address "$T/ctd/containerd.sock" -n k8s.io image import "$T/ctd/pause.tar" >>"$log" 2>&1 ||
        ! to 60 ctr --address "$T/ctd/containerd.sock" -n k8s.io image import "$T/ctd/busybox.tar" >>"$log" 2>&1; then
        skip "CRI pod: cannot import images into k8s.io: $(tail -1 "$log")"; return
    fi
    cri=(to 120 /usr/bin/python3 "$here/cri.py" "$T/ctd/containerd.sock")
    if ! "${cri[@]}" runc "$IMG" "/$tag-k8s" >"$log" 2>&1; then
        skip "CRI pod: the runc handler cannot run a pod here either: $(grep -m1 -A3 FAIL "$log" | tr '\n' ' ')"; return
    fi
    "${cri[@]}" berth "$IMG" "/$tag-k8s" "$B" >"$log" 2>&1
    while IFS= read -r line; do
        case $line in
            "ok   "*) pass=$((pass + 1)); echo "$line" ;;
            "FAIL "*) fail=$((fail + 1)); echo "$line" ;;
            *) echo "$line" ;;
        esac
    done <"$log"
    grep -q '^ok   CRI RemoveContainer' "$log" || grep -q '^FAIL' "$log" || { fail=$((fail + 1)); echo "FAIL CRI pod: cri.py: $(tail -1 "$log")"; }
}

check_ctr_run() {
    out=$(crun_ --rm "$IMG" bd-run sh -c 'echo hello from ctr; exit 4' 2>&1); rc=$?
    eq "$out" "hello from ctr" && eq "$rc" 4
}
check_ctr_detach() {
    crun_ -d "$IMG" bd-main sh -c 'trap "echo got TERM; exit 9" TERM; while true; do sleep 0.1; done' >/dev/null || return 1
    sleep 0.3
    has "$(ctr_ task ls)" 'bd-main .* RUNNING'
}
check_ctr_exec() {
    out=$(ctr_ task exec --exec-id e1 bd-main sh -c 'echo in exec; exit 6' 2>&1); rc=$?
    eq "$out" "in exec" && eq "$rc" 6
}
check_ctr_ps() {
    pid=$(ctr_ task ls | awk '$1 == "bd-main" { print $2 }')
    out=$(ctr_ task ps bd-main 2>&1)
    has "$out" "^$pid " && [ "$(grep -c '^[0-9]' <<<"$out")" -ge 2 ]
}
check_ctr_pause() {
    ctr_ task pause bd-main || return 1
    has "$(ctr_ task ls)" 'bd-main .* PAUSED' || return 1
    ctr_ task resume bd-main || return 1
    has "$(ctr_ task ls)" 'bd-main .* RUNNING'
}
check_ctr_kill() {
    ctr_ task kill bd-main || return 1
    for _ in $(seq 1 50); do ctr_ task ls | grep -q 'bd-main .* STOPPED' && break; sleep 0.1; done
    has "$(ctr_ task ls)" 'bd-main .* STOPPED' || return 1
    # `ctr task rm` reports the exit code of a task that exited non-zero
    out=$(ctr_ task rm bd-main 2>&1); has "$out" 'exit code 9'
}
check_ctr_delete() {
    ctr_ container rm bd-main || return 1
    eq "$(ctr_ container ls -q)" "" || return 1
    left=$("$B" --root "/run/containerd/runc/$tag" list -q 2>&1)
    eq "$left" ""
}
check_ctr_killkill() {
    crun_ -d "$IMG" bd-stubborn sh -c 'trap "" TERM; while true; do sleep 0.1; done' >/dev/null || return 1
    sleep 0.3
    ctr_ task kill bd-stubborn; sleep 0.5
    has "$(ctr_ task ls)" 'bd-stubborn .* RUNNING' || return 1
    ctr_ task kill -s KILL bd-stubborn || return 1
    for _ in $(seq 1 50); do ctr_ task ls | grep -q 'bd-stubborn .* STOPPED' && break; sleep 0.1; done
    out=$(ctr_ task rm bd-stubborn 2>&1); has "$out" 'exit code 137' || return 1
    ctr_ container rm bd-stubborn
}
check_ctr_memory() {
    crun_ -d --memory-limit 67108864 "$IMG" bd-mem sleep 60 >/dev/null || return 1
    v1=/sys/fs/cgroup/memory/$tag/bd-mem/memory.limit_in_bytes v2=/sys/fs/cgroup/$tag/bd-mem/memory.max
    got=$(cat "$v1" 2>/dev/null || cat "$v2" 2>&1)
    ctr_ task kill -s KILL bd-mem; sleep 0.3; ctr_ task rm bd-mem >/dev/null 2>&1; ctr_ container rm bd-mem
    eq "$got" 67108864
}
check_ctr_lo() {
    out=$(crun_ --rm "$IMG" bd-lo ip -o link show lo 2>&1) || { echo "$out"; return 1; }
    has "$out" 'LOOPBACK,UP' || { echo "(runc brings lo up in a network namespace it creates)"; return 1; }
}
check_ctr_cri() {
    out=$(ctr_ plugins ls 2>&1)
    has "$out" 'io.containerd.grpc.v1 *cri .* ok' || { grep -i 'cri' "$T/ctd/log" | tail -3; return 1; }
    has "$(cat "$T/ctd/log")" "berth:{Type:io.containerd.runc.v2 .*Options:map\[BinaryName:$B\]"
}

# =====================================================================================================
# dockerd
# =====================================================================================================
dk() { to 120 "$docker_cli" -H "unix://$T/dkr/docker.sock" "$@"; }

section_docker() {
    command -v dockerd >/dev/null && [ -x "$docker_cli" ] || { skip "docker: docker.io not installed"; return; }
    mkdir -p "$T/dkr"
    # daemon.json's "runtimes" and --add-runtime: both ways users register berth-runtime
    printf '{ "runtimes": { "berth-json": { "path": "%s" } } }\n' "$B" >"$T/dkr/daemon.json"
    # No bridge and no iptables: the daemon's own default network needs host changes this test does not make;
    # containers get --network none or a network namespace of their own.
    dockerd --config-file "$T/dkr/daemon.json" --add-runtime "berth=$B" \
        --data-root "$T/dkr/data" --exec-root "$T/dkr/exec" --pidfile "$T/dkr/docker.pid" \
        -H "unix://$T/dkr/docker.sock" --iptables=false --ip-masq=false --bridge=none \
        --cgroup-parent "/$tag-docker" >"$T/dkr/log" 2>&1 &
    for _ in $(seq 1 150); do dk version >/dev/null 2>&1 && break; sleep 0.2; done
    if ! dk version >/dev/null 2>&1; then skip "docker: dockerd did not start: $(tail -1 "$T/dkr/log")"; return; fi
    if ! dk load -i "$T/ctd/busybox.tar" >"$log" 2>&1 &&
        ! { pm save --format docker-archive -o "$T/dkr/busybox.tar" "$IMG" && dk load -i "$T/dkr/busybox.tar"; } >"$log" 2>&1; then
        skip "docker: cannot load the image: $(tail -1 "$log")"; return
    fi
    if ! dk run --runtime runc --rm --network none "$IMG" true >"$log" 2>&1; then
        skip "docker: runc cannot run a container under dockerd here either: $(tail -1 "$log")"; return
    fi

    check "docker info lists the berth runtimes" check_dk_info
    check "docker run --runtime berth --rm: output and exit code" check_dk_run
    check "docker run --runtime berth-json (daemon.json runtimes)" check_dk_json
    check "docker run -t" check_dk_tty
    check "docker run -d, docker ps" check_dk_detach
    check "docker exec: output and exit code" check_dk_exec
    check "docker exec -i: stdin" check_dk_exec_i
    check "docker exec -d, exec -u -w -e" check_dk_exec_opts
    check "docker logs, docker top" check_dk_logs_top
    check "docker pause / unpause" check_dk_pause
    check "docker stop: SIGTERM handled" check_dk_stop
    check "docker stop -t 1: SIGKILL after timeout" check_dk_stop_kill
    check "docker update --memory --cpus --pids-limit (runtime update)" check_dk_update
    check "docker start: an exited container again" check_dk_restart
    check "docker kill" check_dk_kill
    check "docker rm (and rm -f running)" check_dk_rm
    check "docker run --memory --pids-limit --cpus --user --read-only -v" check_dk_options
    check "docker run --cgroup-parent RELATIVE: container sees its own cgroup" check_dk_cgroup_rel
    check "docker run --network none: lo up" check_dk_net_none
    check "docker run --network host" check_dk_net_host
    check "docker run --init (docker-init as pid 1)" check_dk_init
}

check_dk_info() {
    out=$(dk info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}' 2>&1)
    has "$out" 'berth ' && has "$out" 'berth-json '
}
check_dk_run() {
    out=$(dk run --runtime berth --rm --network none "$IMG" sh -c 'echo hello from docker; exit 3' 2>&1); rc=$?
    eq "$out" "hello from docker" && eq "$rc" 3
}
check_dk_json() {
    out=$(dk run --runtime berth-json --rm --network none "$IMG" echo json 2>&1); eq "$out" json
}
check_dk_tty() {
    out=$(dk run --runtime berth --rm -t --network none "$IMG" tty 2>&1); rc=$?
    has "$out" '^/dev/pts/' && eq "$rc" 0
}
check_dk_detach() {
    dk run --runtime berth -d --network none --name bd-main "$IMG" \
        sh -c 'echo started; trap "echo got TERM; exit 8" TERM; while true; do sleep 0.1; done' >/dev/null || return 1
    sleep 0.3
    has "$(dk ps --filter name=bd-main --format '{{.Status}}')" '^Up' &&
        eq "$(dk inspect -f '{{.HostConfig.Runtime}}' bd-main)" berth
}
check_dk_exec() {
    out=$(dk exec bd-main sh -c 'echo in exec; exit 2' 2>&1); rc=$?
    eq "$out" "in exec" && eq "$rc" 2
}
check_dk_exec_i() {
    out=$(printf 'a\nb\nc\n' | dk exec -i bd-main sh -c 'wc -l' 2>&1)
    eq "$(echo $out)" 3
}
check_dk_logs_top() {
    has "$(dk logs bd-main 2>&1)" '^started$' || return 1
    out=$(dk top bd-main 2>&1); has "$out" 'trap' && has "$out" 'sleep'
}
check_dk_pause() {
    dk pause bd-main >/dev/null || return 1
    eq "$(dk inspect -f '{{.State.Status}}' bd-main)" paused || return 1
    dk unpause bd-main >/dev/null || return 1
    eq "$(dk inspect -f '{{.State.Status}}' bd-main)" running
}
check_dk_stop() {
    t0=$(now_ms); dk stop bd-main >/dev/null || return 1; t1=$(now_ms)
    eq "$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' bd-main)" "exited 8" || return 1
    has "$(dk logs bd-main)" 'got TERM' || return 1
    [ $((t1 - t0)) -lt 5000 ] || { echo "stop took $((t1 - t0)) ms"; return 1; }
}
check_dk_stop_kill() {
    dk run --runtime berth -d --network none --name bd-stubborn "$IMG" sh -c 'trap "" TERM; while true; do sleep 0.1; done' >/dev/null || return 1
    sleep 0.3
    t0=$(now_ms); dk stop -t 1 bd-stubborn >/dev/null || return 1; t1=$(now_ms)
    eq "$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' bd-stubborn)" "exited 137" || return 1
    [ $((t1 - t0)) -ge 900 ] && [ $((t1 - t0)) -lt 8000 ] || { echo "stop took $((t1 - t0)) ms"; return 1; }
}
check_dk_exec_opts() {
    dk exec -d bd-main sh -c 'echo detached > /tmp/exec-d' || return 1
    for _ in $(seq 1 30); do [ "$(dk exec bd-main cat /tmp/exec-d 2>/dev/null)" = detached ] && break; sleep 0.1; done
    eq "$(dk exec bd-main cat /tmp/exec-d 2>&1)" detached || return 1
    eq "$(dk exec -u 65534 -w /tmp -e FOO=bar bd-main sh -c 'echo $(id -u) $(pwd) $FOO' 2>&1)" "65534 /tmp bar"
}
check_dk_update() {
    dk run --runtime berth -d --network none --name bd-upd --memory 64m "$IMG" sleep 600 >/dev/null || return 1
    dk update --memory 48m --memory-swap 96m --cpus 0.25 --pids-limit 20 bd-upd >/dev/null || r=1
    out=$(dk exec bd-upd sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max 2>/dev/null ||
        cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max' 2>&1)
    dk rm -f bd-upd >/dev/null
    [ -z "${r:-}" ] || return 1
    eq "$(echo $out)" "50331648 25000 20" || eq "$(echo $out)" "50331648 25000 100000 20"
}
check_dk_restart() {
    dk start bd-main >/dev/null || return 1
    sleep 0.3
    eq "$(dk inspect -f '{{.State.Status}}' bd-main)" running && eq "$(dk exec bd-main echo again 2>&1)" again
}
check_dk_kill() {
    dk kill bd-main >/dev/null || return 1
    eq "$(dk wait bd-main)" 137
}
check_dk_rm() {
    dk start bd-stubborn >/dev/null || return 1
    dk rm bd-main >/dev/null || return 1
    dk rm -f bd-stubborn >/dev/null || return 1
    eq "$(dk ps -aq)" ""
}
check_dk_options() {
    mkdir -p "$T/dkr/vol"; echo from-host >"$T/dkr/vol/in"
    out=$(dk run --runtime berth --rm --network none --memory 64m --pids-limit 50 --cpus 0.5 --user 65534:65534 \
        --read-only -v "$T/dkr/vol:/data" "$IMG" sh -c '
        id -u; cat /data/in; touch /x 2>/dev/null || echo ro
        for f in memory/memory.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us memory.max pids.max cpu.max; do
            [ -f /sys/fs/cgroup/$f ] && echo "$f $(cat /sys/fs/cgroup/$f)"
        done; true' 2>&1) || { echo "$out"; return 1; }
    has "$out" '^65534$' && has "$out" '^from-host$' && has "$out" '^ro$' && has "$out" 'pids.max 50' || return 1
    has "$out" 'memory.limit_in_bytes 67108864\|memory.max 67108864' && has "$out" 'cfs_quota_us 50000\|cpu.max 50000'
}
check_dk_cgroup_rel() {
    # a relative cgroupsPath ("PARENT/ID") is under the runtime's own cgroup; /sys/fs/cgroup/memory in the
    # container must be that cgroup (runc bind-mounts it), not the hierarchy's root
    out=$(dk run --runtime berth --rm --network none --cgroup-parent "$tag-rel" --memory 64m --pids-limit 50 "$IMG" \
        sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>&1; grep -E " /sys/fs/cgroup/(memory|pids) " /proc/self/mountinfo | cut -d" " -f4,5' 2>&1)
    has "$out" '^67108864$' && has "$out" '^50$' || return 1
}
check_dk_net_host() {
    out=$(dk run --runtime berth --rm --network host "$IMG" sh -c 'hostname; ip -o link | wc -l' 2>&1)
    has "$out" "^$(hostname)\$" && [ "$(tail -1 <<<"$out")" -eq "$(ip -o link | wc -l)" ]
}
check_dk_init() {
    out=$(dk run --runtime berth --rm --network none --init "$IMG" sh -c 'tr "\0" " " </proc/1/cmdline' 2>&1)
    has "$out" '^/sbin/docker-init -- sh'
}
check_dk_net_none() {
    out=$(dk run --runtime berth --rm --network none "$IMG" ip -o link 2>&1)
    eq "$(grep -c . <<<"$out")" 1 && has "$out" 'lo: <LOOPBACK,UP'
}

# =====================================================================================================
section_podman
section_containerd
section_docker

cleanup
echo "time: $((SECONDS - started)) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
