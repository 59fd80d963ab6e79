#!/bin/sh
# Removes containers, bundles and state that an interrupted test run left behind.
runtime=${1:-.build/debug/berth-runtime}
for root in /tmp/berth-state-*; do
    [ -d "$root" ] || continue
    for id in $("$runtime" --root "$root" list -q 2>/dev/null); do "$runtime" --root "$root" delete --force "$id"; done
    rm -rf "$root"
done
rm -rf /tmp/berth-bundle-* /tmp/berth-out-* /tmp/berth-rootfs-*
for dir in /sys/fs/cgroup/*/berth/t-* /sys/fs/cgroup/*/berth-test/t-* /sys/fs/cgroup/berth/t-* /sys/fs/cgroup/berth-test/t-*; do
    [ -d "$dir" ] && rmdir "$dir" 2>/dev/null
done
exit 0
