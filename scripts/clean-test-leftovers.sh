#!/bin/sh
# Removes containers, bundles and state that an interrupted test run left behind.
runtime=${1:-.build/debug/berth-runtime}
for root in /tmp/berth-state-*; do
    [ -d "$root" ] || continue
    for id in $("$runtime" --root "$root" list -q 2>/dev/null); do "$runtime" --root "$root" delete --force "$id"; done
    rm -rf "$root"
done
# The engine suite's roots: remove their containers (monitors, mounts, cgroups), then the directories.
berth=$(dirname "$runtime")/berth
for root in /tmp/berth-engine-root-*; do
    [ -d "$root" ] || continue
    runroot=/tmp/berth-engine-run-${root##*-}
    [ -x "$berth" ] && "$berth" --root "$root" --runroot "$runroot" ps -aq --no-trunc 2>/dev/null \
        | xargs -r "$berth" --root "$root" --runroot "$runroot" rm -f >/dev/null 2>&1
    for m in $(awk -v r="$root" '$2 ~ "^"r {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
    rm -rf "$root" "$runroot"
done
rm -rf /tmp/berth-engine-image-* /tmp/berth-engine-out-*
rm -rf /tmp/berth-bundle-* /tmp/berth-out-* /tmp/berth-rootfs-*
for dir in /sys/fs/cgroup/*/berth/t-* /sys/fs/cgroup/*/berth-test/t-* /sys/fs/cgroup/berth/t-* /sys/fs/cgroup/berth-test/t-*; do
    [ -d "$dir" ] && rmdir "$dir" 2>/dev/null
done
exit 0
