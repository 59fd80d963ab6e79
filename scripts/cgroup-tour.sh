#!/bin/bash
# Runs every ```sh block of docs/cgroup-tour.md in order, in one bash, echoing each command, and
# fails on the first command that fails (the tour marks its expected refusals with `|| echo`).
# Needs root and a built berth (.build/debug/berth); the tour's own `swift build` line is skipped.
#   scripts/cgroup-tour.sh                              # on this host
#   scripts/cgroup-v2-run.sh -- scripts/cgroup-tour.sh  # on a cgroup v2 kernel
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$ROOT/.build/debug/berth" ] || { echo "cgroup-tour: build berth first: swift build --product berth" >&2; exit 2; }
cd "$ROOT"
SCRIPT=$(awk '/^```sh$/ { inside = 1; next } /^```$/ { inside = 0; next } inside && !/^swift build/ { print }' docs/cgroup-tour.md)
# Clean up a previous, interrupted run.
"$ROOT/.build/debug/berth" cgroup rm --force /tour >/dev/null 2>&1 || true
exec bash -euv -c "export PATH=$ROOT/.build/debug:\$PATH; $SCRIPT"
