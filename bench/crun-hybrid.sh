#!/bin/sh
# Runs crun on a hybrid cgroup host (v1 controllers plus an empty cgroup2 at /sys/fs/cgroup/unified).
# Debian's crun 1.8 refuses such a host ("cgroups in hybrid mode not supported"); it runs when it starts in a
# private mount namespace in which /sys/fs/cgroup/unified/cgroup.controllers is bind-masked with /dev/null.
# The namespace is private (unshare -m makes every mount private), so nothing reaches the host's mount table,
# and it is gone once crun and the container it made have exited.
#
# Usage: bench/crun-hybrid.sh CRUN-ARGS...     (root)
#   CRUN=/path/to/crun   the program to exec (default: crun); bench/runtime.py sets CRUN=/bin/true to time the
#                        wrapper alone.
# Only `crun create` (and `crun run`) need it; start, state, kill and delete run unwrapped.
set -e
if [ "${BERTH_CRUN_HYBRID_NS:-}" != 1 ]; then
    BERTH_CRUN_HYBRID_NS=1 exec unshare -m -- /bin/sh "$0" "$@"
fi
unset BERTH_CRUN_HYBRID_NS
controllers=/sys/fs/cgroup/unified/cgroup.controllers
if [ -e "$controllers" ]; then
    # busybox's mount (static) starts in half the time of util-linux's.
    if [ -x /bin/busybox ]; then /bin/busybox mount -o bind /dev/null "$controllers"; else mount --bind /dev/null "$controllers"; fi
fi
exec "${CRUN:-crun}" "$@"
