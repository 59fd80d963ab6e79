#!/bin/bash
# Runs every test: unit and integration suites on this host (cgroup v1 hybrid or v2, whichever it
# is), runc's own bats suite against berth-runtime, the cgroup and runtime suites again on a real
# cgroup-v2-only kernel, and the engines (podman, containerd, dockerd) driving berth-runtime. Exit
# status is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH

swift build --build-tests 2>&1 | grep -E 'error|Build complete'
[ "${PIPESTATUS[0]}" = 0 ] || { echo "$(basename "$0"): the build failed" >&2; exit 1; }
failed=0

echo "== host suites ($(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup)"
swift test --skip-build || failed=1
./scripts/clean-test-leftovers.sh .build/debug/berth-runtime

echo "== the cgroup tour (docs/cgroup-tour.md), as written, on this host"
./scripts/cgroup-tour.sh > /tmp/berth-tour.log 2>&1 && echo "tour: ok" || { echo "tour: FAILED"; tail -20 /tmp/berth-tour.log; failed=1; }

if [ "${BERTH_SKIP_RUNC_BATS:-}" != 1 ]; then
    # runc's own integration tests against berth-runtime (tests/runc-bats/skips.txt: what is left out and why).
    echo "== runc 1.1.5's integration tests (bats) against berth-runtime"
    ./scripts/runc-bats.sh || failed=1
    ./scripts/clean-test-leftovers.sh .build/debug/berth-runtime
fi

if [ "${BERTH_SKIP_V2:-}" != 1 ]; then
    echo "== cgroup v2 kernel: CgroupsTests and RuntimeTests, then the tour"
    # qemu with Debian's stock kernel: user-mode Linux has no cpuset controller, no ns_last_pid and no boot
    # time for ps, which three of these tests need.
    BERTH_V2_BACKEND=${BERTH_V2_BACKEND:-qemu} ./scripts/cgroup-v2-run.sh --filter 'CgroupsTests|RuntimeTests' || failed=1
    ./scripts/cgroup-v2-run.sh -- ./scripts/cgroup-tour.sh > /tmp/berth-tour-v2.log 2>&1 && echo "tour on v2: ok" \
        || { echo "tour on v2: FAILED"; tail -20 /tmp/berth-tour-v2.log; failed=1; }
    # The engine on cgroup v2: the lifecycle, limits, restart and output tests (user-mode Linux only: under
    # qemu TCG they take too long for CI).
    echo "== cgroup v2 kernel: EngineTests (lifecycle, limits, restart, formats, OOM, stats, rootless cgroups)"
    # Debian's user-mode kernel has no bridge or veth devices: these containers use no network there
    # (networking is tested on this host, and it does not depend on the cgroup version).
    BERTH_DEFAULT_NETWORK=none BERTH_V2_BACKEND=uml ./scripts/cgroup-v2-run.sh --filter 'runPrintsOutputAndReturnsTheExitCode|detachedContainerStopsWithItsStopSignalAndSaysWhy|limitsAndFlagsReachTheContainer|restartPolicyOnFailureCountsRestarts|psFormatsAndFilters|oomKillOfPID1IsReported|oomKillOfAChildIsToldApartFromPID1|containerProcessesDoNotInheritTheMonitorsOOMScore|statsAndKernelViewShowUsageAgainstLimits|limitsApplyInADelegatedCgroupV2Subtree|limitsNeedACgroupThisHostDoesNotDelegate'
    case $? in
        0) ;;
        125) echo "engine on v2: NOT RUN (user-mode Linux cannot run on this machine)" ;;
        *) failed=1 ;;
    esac
fi

if [ "${BERTH_SKIP_FUZZ:-}" != 1 ]; then
    # libFuzzer harnesses (docs/fuzzing.md): the regression inputs replayed, then a short run of each on its
    # corpus; one line per harness with its executions, coverage and crashes.
    echo "== fuzzing: ${BERTH_FUZZ_SECONDS:-25} s per harness"
    ./scripts/fuzz.sh --seconds "${BERTH_FUZZ_SECONDS:-25}" || failed=1
fi

if [ -x tests/drivers/run.sh ] && [ "${BERTH_SKIP_DRIVERS:-}" != 1 ]; then
    echo "== engines driving berth-runtime"
    tests/drivers/run.sh "$PWD/.build/debug/berth-runtime" || failed=1
fi
exit $failed
