#!/bin/bash
# Builds Berth, makes the default busybox bundle from Debian's busybox-static (no registry), and runs
# one container with berth-runtime that shows its namespaces and its cgroup limits.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH

echo "== building"
swift build 2>&1 | grep -E 'error|Build complete'
[ "${PIPESTATUS[0]}" = 0 ] || { echo "$(basename "$0"): the build failed" >&2; exit 1; }
runtime=$PWD/.build/debug/berth-runtime

bundle=${BERTH_DEMO_BUNDLE:-/var/lib/berth/bundles/busybox}
if [ ! -x "$bundle/rootfs/bin/busybox" ]; then
    echo "== making the busybox bundle in $bundle"
    mkdir -p "$bundle"
    ./scripts/make-busybox-rootfs.sh "$bundle/rootfs"
fi
rm -f "$bundle/config.json"
"$runtime" spec --bundle "$bundle"
demo_script='
echo "hostname:        $(hostname)"
echo "my pid:          $$ (pid 1 of its own pid namespace)"
echo "processes seen:  $(ps -o pid | tail -n +2 | tr "\n" " ")"
echo "network:         $(ip -o link | cut -d: -f2 | tr -d " " | tr "\n" " ")"
echo "user:            $(id)"
echo "root is:         $(grep -E "^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / " /proc/self/mountinfo | cut -d" " -f4) on the host (read-only: $(touch /x 2>/dev/null && echo no || echo yes))"
for f in memory/memory.limit_in_bytes memory.max; do [ -r /sys/fs/cgroup/$f ] && echo "memory limit:    $(cat /sys/fs/cgroup/$f) bytes"; done
for f in pids/pids.max pids.max; do [ -r /sys/fs/cgroup/$f ] && echo "pids limit:      $(cat /sys/fs/cgroup/$f)"; done
echo "fork bomb:       $( (for i in $(seq 50); do sleep 2 & done) 2>&1 | head -1)"
'
jq --arg script "$demo_script" '
    .process.terminal = false | .process.args = ["sh", "-c", $script] | .hostname = "berth-demo"
    | .linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 16}
' "$bundle/config.json" > "$bundle/config.json.new" && mv "$bundle/config.json.new" "$bundle/config.json"

echo "== berth-runtime run demo (64 MiB memory, 16 pids)"
"$runtime" delete --force berth-demo 2>/dev/null || true
"$runtime" run --bundle "$bundle" berth-demo
echo "== the host is untouched: hostname $(hostname), container state removed: $("$runtime" list -q | grep -c berth-demo || true) left"

echo "== berth run: the engine, daemonless, on an image made here from the same busybox (no registry)"
berth=$PWD/.build/debug/berth
if ! "$berth" image inspect busybox:latest >/dev/null 2>&1; then
    tar -C "$bundle/rootfs" -cf /tmp/berth-demo-rootfs.tar .
    "$berth" import /tmp/berth-demo-rootfs.tar busybox:latest >/dev/null
    rm -f /tmp/berth-demo-rootfs.tar
fi
"$berth" rm -f berth-demo-engine >/dev/null 2>&1 || true
"$berth" run --rm --name berth-demo-engine -m 64m --pids-limit 16 busybox \
    sh -c 'echo "hello from berth run: $(hostname), pid $$, $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max) pids allowed"'
"$berth" run -d --name berth-demo-engine busybox sh -c 'echo serving; sleep 300' >/dev/null
"$berth" ps
"$berth" inspect --kernel berth-demo-engine
"$berth" stop -t 1 berth-demo-engine >/dev/null
"$berth" ps -a --filter name=berth-demo-engine --format 'table {{.Names}}\t{{.Status}}'
"$berth" inspect -f 'why it stopped: {{.State.Reason}}' berth-demo-engine
"$berth" rm berth-demo-engine >/dev/null
