#!/usr/bin/env python3
"""berth-runtime as podman's OCI runtime: `podman --runtime R run --rm IMAGE true`, R = berth-runtime, crun, runc.

Two cases per runtime: podman's default seccomp profile (what every podman container carries) and
`--security-opt seccomp=unconfined`. Runtimes and cases alternate run by run in this one process, so drift in the
machine's load hits all alike; the report gives medians, p10/p90 and the ratios berth-runtime/crun and /runc per
case. Each command is started with posix_spawn and reaped with wait4 (the CPU column is podman's and everything it
waited for, conmon and the runtime included). See bench/README.md.

Usage: bench/podman.py [-n N] [--warmup W] [--berth PATH]      (root; podman, crun, runc installed)
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRAPPER = os.path.join(REPO, "bench", "crun-hybrid.sh")


def die(message):
    print(f"bench/podman: {message}", file=sys.stderr)
    sys.exit(1)


def find_berth(argument):
    for candidate in ([argument] if argument else [os.environ.get("BERTH_RUNTIME", ""),
                                                    os.path.join(REPO, ".build-bench/release/berth-runtime"),
                                                    os.path.join(REPO, ".build/release/berth-runtime")]):
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    die("no release berth-runtime found; build it first (swift build -c release --product berth-runtime)")


def summary(values):
    values = sorted(v / 1e6 for v in values)
    q = statistics.quantiles(values, n=10) if len(values) > 1 else [values[0]] * 9
    return statistics.median(values), q[0], q[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--iterations", type=int, default=int(os.environ.get("N", "30")))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--berth")
    parser.add_argument("--only", help="comma-separated subset of berth,crun,runc")
    parser.add_argument("--phases", action="store_true",
                        help="also time each runtime command podman runs (create, start, delete...) through a small sh "
                             "wrapper that logs its duration; adds a fork of date on each side to every command")
    args = parser.parse_args()
    if os.geteuid() != 0:
        die("run as root")
    if not shutil.which("podman"):
        die("podman is needed (apt-get install podman)")
    berth = find_berth(args.berth)
    hybrid = os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers")
    runtimes = {"berth-runtime": berth, "crun": WRAPPER if hybrid else shutil.which("crun"), "runc": shutil.which("runc")}
    if args.only:
        keep = set(args.only.split(","))
        runtimes = {k: v for k, v in runtimes.items() if k in keep or k.split("-")[0] in keep}

    work = tempfile.mkdtemp(prefix="berth-bench-podman.")
    phase_log = f"{work}/phases.log"
    if args.phases:
        # podman passes global flags (--root, --log, --log-format, --systemd-cgroup...) before the command.
        # One script per runtime and case: podman and conmon do not pass the environment on.
        wrapped = {}
        for (name, binary), case in [(r, c) for r in runtimes.items() for c in ("default", "unconfined")]:
            script = f"{work}/timed-{name}-{case}.sh"
            with open(script, "w") as f:
                f.write(f"""#!/bin/sh
s=$(date +%s%N)
"{binary}" "$@"
rc=$?
e=$(date +%s%N)
cmd=
while [ $# -gt 0 ]; do
    case $1 in --root|--log|--log-format|--cgroup-manager) shift 2 ;; -*) shift ;; *) cmd=$1; break ;; esac
done
echo "{name} {case} $cmd $((e - s))" >> {phase_log}
exit $rc
""")
            os.chmod(script, 0o755)
            wrapped[(name, case)] = script
        timed = wrapped
    else:
        timed = None
    base = ["podman", "--root", f"{work}/root", "--runroot", f"{work}/run", "--storage-driver", "overlay",
            "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "CRUN": shutil.which("crun") or "crun",
           "HOME": "/root"}
    devnull = os.open("/dev/null", os.O_RDWR)
    errlog = os.open(f"{work}/stderr.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        subprocess.run(["sh", f"{REPO}/scripts/make-busybox-rootfs.sh", f"{work}/rootfs"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["tar", "-C", f"{work}/rootfs", "-cf", f"{work}/rootfs.tar", "."], check=True)
        subprocess.run(base + ["import", f"{work}/rootfs.tar", "localhost/bench:latest"], check=True, stdout=subprocess.DEVNULL)
        # This host's hard limits (no CAP_SYS_RESOURCE): podman's default nofile/nproc would exceed them.
        extra = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", "--network", "none"]
        cases = {"default seccomp": [], "unconfined": ["--security-opt", "seccomp=unconfined"]}
        samples = {(r, c): [] for r in runtimes for c in cases}
        cpu = {(r, c): [] for r in runtimes for c in cases}
        print(f"measuring: {args.warmup} warm-up + {args.iterations} runs per runtime and case, alternating...", file=sys.stderr)
        load_before = os.getloadavg()
        for i in range(args.warmup + args.iterations):
            for case, flags in cases.items():
                for name, binary in runtimes.items():
                    if timed:
                        binary = timed[(name, "default" if case == "default seccomp" else "unconfined")]
                    argv = base + ["--runtime", binary, "run", "--rm", *flags, *extra, "localhost/bench:latest", "true"]
                    start = time.perf_counter_ns()
                    pid = os.posix_spawnp(argv[0], argv, env, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                                                          (os.POSIX_SPAWN_DUP2, devnull, 1),
                                                                          (os.POSIX_SPAWN_DUP2, errlog, 2)])
                    _, status, usage = os.wait4(pid, 0)
                    elapsed = time.perf_counter_ns() - start
                    if os.waitstatus_to_exitcode(status) != 0:
                        with open(f"{work}/stderr.log", errors="replace") as f:
                            tail = "".join(f.readlines()[-8:])
                        die(f"{name} ({case}) failed:\n{tail}")
                    if i >= args.warmup:
                        samples[(name, case)].append(elapsed)
                        cpu[(name, case)].append((usage.ru_utime + usage.ru_stime) * 1e9)
        load_after = os.getloadavg()
        print(f"podman {subprocess.run(['podman', '--version'], capture_output=True, text=True).stdout.strip()}: "
              f"run --rm --network none IMAGE true, {args.iterations} runs per runtime and case, alternating; "
              f"load {load_before[0]:.2f} before / {load_after[0]:.2f} after"
              f"{'; crun through bench/crun-hybrid.sh' if hybrid else ''}")
        print(f"{'ms':34}{'median':>8}{'p10':>8}{'p90':>8}{'CPU':>8}")
        for case in cases:
            for name in runtimes:
                m, p10, p90 = summary(samples[(name, case)])
                print(f"{name + ' (' + case + ')':34}{m:8.1f}{p10:8.1f}{p90:8.1f}{statistics.median(cpu[(name, case)]) / 1e6:8.1f}")
        if args.phases and os.path.exists(phase_log):
            per = {}
            with open(phase_log) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) != 4:         # a command without a subcommand (podman asks --version)
                        continue
                    name, case, command, ns = parts
                    per.setdefault((name, case, command), []).append(int(ns))
            commands = sorted({k[2] for k in per})
            print(f"runtime commands under podman, median ms (through the timing wrapper; warm-up runs included):")
            print(f"{'':34}" + "".join(f"{c:>9}" for c in commands))
            for case in ("default", "unconfined"):
                for name in runtimes:
                    cells = "".join(f"{statistics.median(per[(name, case, c)]) / 1e6:9.1f}" if (name, case, c) in per
                                    else f"{'-':>9}" for c in commands)
                    print(f"{name + ' (' + case + ')':34}{cells}")
        for case in cases:
            if "berth-runtime" not in runtimes:
                break
            b = summary(samples[("berth-runtime", case)])[0]
            ratios = ", ".join(f"/ {o} {b / summary(samples[(o, case)])[0]:.3f}" for o in runtimes if o != "berth-runtime")
            print(f"ratio berth-runtime ({case}) {ratios}")
    finally:
        subprocess.run(base + ["rm", "-af"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(base + ["system", "reset", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open("/proc/self/mountinfo") as f:
            mounts = sorted((line.split()[4] for line in f if line.split()[4].startswith(work)), reverse=True)
        for mount in mounts:
            subprocess.run(["umount", "-l", mount], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
