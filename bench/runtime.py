#!/usr/bin/env python3
"""Runtime benchmark: berth-runtime vs runc vs crun on one busybox bundle.

One cycle = `create` + `start` + wait for the container's /bin/true to exit + `delete`, each runtime with its own
--root state dir. The runtimes alternate cycle by cycle (berth, runc, crun, berth, ...) so that drift in the
machine's load hits all three alike. Prints per runtime the median and p10/p90 of a cycle, the medians of each
phase, the ratios berth/runc and berth/crun, and the peak RSS of every invocation. See bench/README.md.

Usage: bench/runtime.py [-n N] [--warmup W] [--berth PATH]      (root)
"""
import argparse
import ctypes
import errno
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRAPPER = os.path.join(REPO, "bench", "crun-hybrid.sh")
PR_SET_CHILD_SUBREAPER = 36
PHASES = ("create", "start", "wait", "delete")


CONTAINERS_SECCOMP = "/usr/share/containers/seccomp.json"


def default_seccomp(config):
    """podman's default profile turned into linux.seccomp as containers/common does for this host: the
    native architecture and its sub-architectures, rules kept or dropped by the config's bounding capabilities,
    the architecture and the kernel version."""
    try:
        with open(CONTAINERS_SECCOMP) as f:
            profile = json.load(f)
    except OSError:
        return None
    native = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}.get(platform.machine(), "SCMP_ARCH_X86_64")
    go_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), "amd64")
    arches = []
    for entry in profile.get("archMap") or []:
        if entry["architecture"] == native:
            arches = [native, *entry.get("subArchitectures", [])]
    caps = set(config["process"].get("capabilities", {}).get("bounding", []))
    kernel = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])
    rules = []
    for rule in profile["syscalls"]:
        inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
        if inc.get("arches") and go_arch not in inc["arches"]:
            continue
        if exc.get("arches") and go_arch in exc["arches"]:
            continue
        if inc.get("caps") and not all(c in caps for c in inc["caps"]):
            continue
        if exc.get("caps") and any(c in caps for c in exc["caps"]):
            continue
        if inc.get("minKernel") and kernel < tuple(int(x) for x in inc["minKernel"].split(".")[:2]):
            continue
        out = {"names": rule.get("names") or [rule["name"]], "action": rule["action"]}
        if rule.get("errnoRet") is not None:
            out["errnoRet"] = rule["errnoRet"]
        if rule.get("args"):
            out["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op")} for a in rule["args"]]
        rules.append(out)
    section = {"defaultAction": profile["defaultAction"], "architectures": arches, "syscalls": rules}
    if profile.get("defaultErrnoRet") is not None:
        section["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return section


def die(message):
    print(f"bench/runtime: {message}", file=sys.stderr)
    sys.exit(1)


def ensure_tools():
    """Installs a missing tool with apt-get (and only so)."""
    wanted = {"runc": "runc", "crun": "crun", "unshare": "util-linux", "mount": "mount"}
    missing = sorted({package for tool, package in wanted.items() if shutil.which(tool) is None})
    if not os.access("/usr/bin/time", os.X_OK):
        missing.append("time")
    if not os.access("/bin/busybox", os.X_OK):
        missing.append("busybox-static")
    if missing:
        print(f"installing {' '.join(missing)} with apt-get...", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def find_berth(argument):
    candidates = [argument] if argument else [
        os.environ.get("BERTH_RUNTIME", ""),
        os.path.join(REPO, ".build-bench/release/berth-runtime"),
        os.path.join(REPO, ".build/release/berth-runtime"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    die("no release berth-runtime found; build it first:\n"
        "  swift build -c release --product berth-runtime --scratch-path .build-bench\n"
        "or pass --berth PATH (or BERTH_RUNTIME=PATH)")


def version_line(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


class Spawner:
    """posix_spawn + wait4: no shell, no extra process in the timed cycles.

    Peak RSS is not read from this wait4: Python's posix_spawn uses vfork, and the kernel folds the high-water
    RSS of the mm an exec replaces (here the Python interpreter's, ~16 MiB) into the child's ru_maxrss. So RSS is
    measured in separate cycles with every invocation under GNU time (`/usr/bin/time -f %M`, ~1 MiB floor)."""

    def __init__(self, work, env):
        self.env = env
        self.devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        self.errlog_path = os.path.join(work, "stderr.log")
        self.errlog = os.open(self.errlog_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.rss_path = os.path.join(work, "rss")
        self.time = "/usr/bin/time"
        self.actions = [(os.POSIX_SPAWN_DUP2, self.devnull, 0), (os.POSIX_SPAWN_DUP2, self.devnull, 1),
                        (os.POSIX_SPAWN_DUP2, self.errlog, 2)]

    def run(self, argv, env=None, rss=False):
        """Returns (exit status, peak RSS in KiB or 0 unless rss, elapsed ns)."""
        if rss:
            argv = [self.time, "-f", "%M", "-o", self.rss_path, *argv]
        start = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, env or self.env, file_actions=self.actions)
        try:
            _, status, usage = os.wait4(pid, 0)
        except KeyboardInterrupt:
            os.wait4(pid, 0)                    # let the command finish, so that cleanup finds a settled state
            raise
        elapsed = time.perf_counter_ns() - start
        # CPU time of the command and of the descendants it waited for (not of the container's init).
        self.last_cpu = (usage.ru_utime * 1e9, usage.ru_stime * 1e9)
        peak = 0
        if rss:
            with open(self.rss_path) as f:
                peak = int(f.read().split()[-1])
        return os.waitstatus_to_exitcode(status), peak, elapsed

    def last_errors(self, lines=10):
        try:
            with open(self.errlog_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:]).rstrip()
        except OSError:
            return ""


def wait_for_exit(pid):
    """Blocks until the container's init has exited. This process is a child subreaper, so the init (orphaned
    when `create` exited) is our child: waitpid both waits and reaps it. Returns the method used."""
    try:
        os.waitpid(pid, 0)
        return "waitpid"
    except ChildProcessError:
        pass
    # Not our child (a runtime that keeps the init under a process of its own): a pidfd turns readable once
    # the process has exited, zombie or not.
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return "pidfd"
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.poll()
    finally:
        os.close(fd)
    return "pidfd"


def reap_strays():
    count = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return count
        if pid == 0:
            return count
        count += 1


class Runtime:
    def __init__(self, name, binary, root, bundle, wrap_create=False, base=None):
        self.name, self.binary, self.root, self.bundle = name, binary, root, bundle
        self.base = base or name                # the runtime without the case suffix
        self.slug = self.base.split("-")[0] + ("-sc" if base else "")
        self.wrap_create = wrap_create
        self.cycles = []                        # ns per cycle
        self.phases = {phase: [] for phase in PHASES}
        self.rss = {"create": 0, "start": 0, "delete": 0}
        self.wait_methods = set()
        self.cpu = []                           # ns of user+sys CPU per cycle (create + start + delete)
        self.cpu_phases = {phase: [] for phase in ("create", "start", "delete")}
        self.cpu_user, self.cpu_sys = [], []

    def argv(self, command, *rest):
        program = WRAPPER if (command == "create" and self.wrap_create) else self.binary
        return [program, "--root", self.root, command, *rest]


def percentile(sorted_values, fraction):
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summary(values_ns):
    values = sorted(v / 1e6 for v in values_ns)
    return statistics.median(values), percentile(values, 0.10), percentile(values, 0.90)


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="berth-bench-runtime.")
        self.tag = os.path.basename(self.work).split(".")[-1].lower()
        self.live = {}                          # container id -> runtime, created and not yet deleted
        self.strays = 0

    # ---- setup ----
    def prepare(self):
        berth = find_berth(self.args.berth)
        # The runtimes' state roots: on a tmpfs by default, as /run (runc's, crun's and berth's default root) is
        # on real hosts; --state-on-disk keeps them on the temp dir's filesystem (this dev host's /run is ext4).
        self.state = os.path.join(self.work, "state")
        os.makedirs(self.state)
        if not self.args.state_on_disk:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0711", "tmpfs", self.state], check=True)
        self.bundle = os.path.join(self.work, "bundle")
        os.makedirs(self.bundle)
        subprocess.run(["sh", os.path.join(REPO, "scripts/make-busybox-rootfs.sh"), os.path.join(self.bundle, "rootfs")],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([berth, "spec", "--bundle", self.bundle], check=True)
        config_path = os.path.join(self.bundle, "config.json")
        with open(config_path) as f:
            config = json.load(f)
        config["process"]["terminal"] = False
        config["process"]["args"] = ["/bin/true"]
        # crun 1.8 rejects ociVersion 1.2.0 ("unknown version specified"); the fields used here are all 1.0.
        config["ociVersion"] = "1.0.2"
        # `spec` writes runc's default config, which has a cgroup namespace only on cgroup2-only hosts;
        # the figures have always been measured with one, so it is added to keep them comparable.
        namespaces = config["linux"]["namespaces"]
        if not any(n["type"] == "cgroup" for n in namespaces):
            namespaces.append({"type": "cgroup"})
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2)
        # The same bundle with podman's default seccomp profile, as podman writes it into the config.
        self.seccomp_bundle = None
        if self.args.seccomp in ("default", "both"):
            section = default_seccomp(config)
            if section is None:
                print(f"bench/runtime: no {CONTAINERS_SECCOMP}: the seccomp case is skipped", file=sys.stderr)
            else:
                self.seccomp_bundle = os.path.join(self.work, "bundle-seccomp")
                os.makedirs(self.seccomp_bundle)
                with_profile = json.loads(json.dumps(config))
                with_profile["root"]["path"] = os.path.join(self.bundle, "rootfs")
                with_profile["linux"]["seccomp"] = section
                with open(os.path.join(self.seccomp_bundle, "config.json"), "w") as f:
                    json.dump(with_profile, f, indent=2)
                self.seccomp_rules = (len(section["syscalls"]), sum(len(r["names"]) for r in section["syscalls"]))
        self.namespaces = [n["type"] for n in config.get("linux", {}).get("namespaces", [])]

        crun = shutil.which("crun")
        self.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "CRUN": crun}
        self.spawner = Spawner(self.work, self.env)
        plain = [("berth-runtime", berth, False), ("runc", shutil.which("runc"), False),
                 ("crun", crun, self.hybrid_host())]
        if self.args.only:
            keep = set(self.args.only.split(","))
            plain = [p for p in plain if p[0] in keep or p[0].split("-")[0] in keep]
        self.runtimes = []
        if self.args.seccomp != "default" or self.seccomp_bundle is None:
            self.runtimes += [Runtime(n, b, os.path.join(self.state, f"root-{n}"), self.bundle, w) for n, b, w in plain]
        if self.seccomp_bundle:
            self.runtimes += [Runtime(n + " +seccomp", b, os.path.join(self.state, f"root-{n}-sc"), self.seccomp_bundle, w, base=n)
                              for n, b, w in plain]
        for runtime in self.runtimes:
            os.makedirs(runtime.root)
        self.versions = {r.name: version_line([r.binary, "--version"]) for r in self.runtimes}
        self.berth = berth

        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            die(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")

    @staticmethod
    def hybrid_host():
        try:
            with open("/proc/self/mountinfo") as f:
                return any(line.split()[4] == "/sys/fs/cgroup/unified" for line in f)
        except OSError:
            return False

    # ---- one cycle ----
    def run_step(self, runtime, command, *rest, rss=False):
        code, peak, elapsed = self.spawner.run(runtime.argv(command, *rest), rss=rss)
        if code != 0:
            raise RuntimeError(f"{runtime.name} {command} {' '.join(rest)} exited {code}:\n{self.spawner.last_errors()}")
        if rss:
            runtime.rss[command] = max(runtime.rss[command], peak)
        self.cycle_cpu[command] = self.spawner.last_cpu
        return elapsed

    def cycle(self, runtime, container_id, record, rss=False):
        pid_file = os.path.join(self.work, f"pid-{runtime.slug}")
        times = {}
        self.cycle_cpu = {}
        begin = time.perf_counter_ns()
        self.live[container_id] = runtime
        times["create"] = self.run_step(runtime, "create", "--bundle", runtime.bundle, "--pid-file", pid_file, container_id,
                                        rss=rss)
        with open(pid_file) as f:
            init_pid = int(f.read().strip())
        times["start"] = self.run_step(runtime, "start", container_id, rss=rss)
        wait_begin = time.perf_counter_ns()
        method = wait_for_exit(init_pid)
        times["wait"] = time.perf_counter_ns() - wait_begin
        times["delete"] = self.run_step(runtime, "delete", container_id, rss=rss)
        total = time.perf_counter_ns() - begin
        del self.live[container_id]
        self.strays += reap_strays()
        runtime.wait_methods.add(method)
        if record:
            runtime.cycles.append(total)
            for phase in PHASES:
                runtime.phases[phase].append(times[phase])
            for phase, (user, system) in self.cycle_cpu.items():
                runtime.cpu_phases[phase].append(user + system)
            runtime.cpu.append(sum(u + s for u, s in self.cycle_cpu.values()))
            runtime.cpu_user.append(sum(u for u, _ in self.cycle_cpu.values()))
            runtime.cpu_sys.append(sum(s for _, s in self.cycle_cpu.values()))

    def wrapper_cost(self):
        """Alternates `bench/crun-hybrid.sh` exec'ing /bin/true with a plain /bin/true, both spawned as above."""
        true = shutil.which("true")
        env = dict(self.env, CRUN=true)
        wrapped, plain = [], []
        for i in range(self.args.warmup + self.args.iterations):
            code, _, elapsed = self.spawner.run([WRAPPER], env)
            if code != 0:
                raise RuntimeError(f"wrapper exited {code}:\n{self.spawner.last_errors()}")
            _, _, elapsed2 = self.spawner.run([true])
            if i >= self.args.warmup:
                wrapped.append(elapsed)
                plain.append(elapsed2)
        rss = max(self.spawner.run([WRAPPER], env, rss=True)[1] for _ in range(5))
        floor = max(self.spawner.run([true], rss=True)[1] for _ in range(5))
        return wrapped, plain, rss, floor

    # ---- run ----
    def run(self):
        n, warmup = self.args.iterations, self.args.warmup
        load_before = os.getloadavg()
        print(f"measuring: {warmup} warm-up + {n} cycles per runtime, alternating "
              f"{', '.join(r.name for r in self.runtimes)}...", file=sys.stderr)
        for i in range(warmup + n):
            for runtime in self.runtimes:
                self.cycle(runtime, f"bb-{self.tag}-{runtime.slug}-{i}", record=i >= warmup)
            if i and (i - warmup + 1) % 25 == 0 and i >= warmup:
                print(f"  {i - warmup + 1}/{n}", file=sys.stderr)
        self.cold = []
        cold_runtime = next((r for r in self.runtimes if r.base == "berth-runtime" and r.bundle == self.seccomp_bundle), None)
        if cold_runtime and self.args.cold:
            # berth-runtime's first create with a profile compiles it; later ones read the cached program.
            print(f"measuring berth-runtime's create with an empty seccomp cache ({self.args.cold} cycles)...", file=sys.stderr)
            for i in range(self.args.cold):
                shutil.rmtree(os.path.join(cold_runtime.root, "@seccomp"), ignore_errors=True)
                before = len(cold_runtime.phases["create"])
                self.cycle(cold_runtime, f"bb-{self.tag}-cold-{i}", record=True)
                self.cold.append(cold_runtime.phases["create"].pop())
                cold_runtime.cycles.pop()
                for phase in PHASES[1:]:
                    cold_runtime.phases[phase].pop()
                for phase in ("create", "start", "delete"):
                    cold_runtime.cpu_phases[phase].pop()
                cold_runtime.cpu.pop(); cold_runtime.cpu_user.pop(); cold_runtime.cpu_sys.pop()
                assert len(cold_runtime.phases["create"]) == before
        self.wrapper = None
        if any(r.wrap_create for r in self.runtimes):
            print("measuring the crun wrapper alone...", file=sys.stderr)
            self.wrapper = self.wrapper_cost()
        print(f"measuring peak RSS: {self.args.rss_cycles} more cycles per runtime under {self.spawner.time}...",
              file=sys.stderr)
        for i in range(self.args.rss_cycles):
            for runtime in self.runtimes:
                self.cycle(runtime, f"bb-{self.tag}-{runtime.slug}-rss{i}", record=False, rss=True)
        self.load = (load_before, os.getloadavg())
        self.report()

    def report(self):
        n = self.args.iterations
        print(f"berth runtime benchmark: {n} cycles per runtime of create + start + wait + delete, /bin/true in one "
              f"busybox bundle, runtimes alternating cycle by cycle ({self.args.warmup} warm-up cycles each not counted)")
        print(f"host: {platform.node()} kernel {platform.release()}, {os.cpu_count()} CPUs, "
              f"load average {self.load[0][0]:.2f} before / {self.load[1][0]:.2f} after; "
              f"namespaces: {','.join(self.namespaces)}; state roots on "
              f"{'the temp dir (' + subprocess.run(['stat', '-fc', '%T', self.work], capture_output=True, text=True).stdout.strip() + ')' if self.args.state_on_disk else 'a tmpfs'}")
        for runtime in self.runtimes:
            wrap = f" (create via {os.path.relpath(WRAPPER, REPO)})" if runtime.wrap_create else ""
            print(f"  {runtime.name:14} {runtime.binary}: {self.versions[runtime.name]}{wrap}")
        print(f"exit detection: {', '.join(sorted(set().union(*(r.wait_methods for r in self.runtimes))))} on the init pid "
              f"from --pid-file (this process is a child subreaper); stray children reaped: {self.strays}")
        print()
        header = f"{'ms per cycle':22}{'median':>8}{'p10':>8}{'p90':>8}   | phase medians:{'create':>8}{'start':>8}{'wait':>8}{'delete':>8}"
        print(header)
        print("-" * len(header))
        medians = {}
        for runtime in self.runtimes:
            median, p10, p90 = summary(runtime.cycles)
            medians[runtime.name] = median
            phases = "".join(f"{summary(runtime.phases[p])[0]:8.2f}" for p in PHASES)
            print(f"{runtime.name:22}{median:8.2f}{p10:8.2f}{p90:8.2f}   | {'':14}{phases}")
        net = None                              # the crun wrapper's cost per create, ms
        if self.wrapper:
            net = summary(self.wrapper[0])[0] - summary(self.wrapper[1])[0]
            for r in self.runtimes:
                if r.base == "crun":
                    c_median, c_p10, c_p90 = summary(r.cycles)
                    print(f"{r.name + ' minus wrapper':22}{c_median - net:8.2f}{c_p10 - net:8.2f}{c_p90 - net:8.2f}   | "
                          f"(the wrapper's cost, below, taken off)")
        if self.seccomp_bundle:
            print(f"(+seccomp: podman's default profile from {CONTAINERS_SECCOMP}, {self.seccomp_rules[0]} rules naming "
                  f"{self.seccomp_rules[1]} syscalls, in linux.seccomp; berth-runtime's cache is warm after its first create)")
        if self.cold:
            m, p10, p90 = summary(self.cold)
            print(f"berth-runtime +seccomp create with an empty cache (compiling with libseccomp): median {m:.2f} "
                  f"p10 {p10:.2f} p90 {p90:.2f} ms over {len(self.cold)} cycles")
        print()
        header = (f"{'CPU ms per cycle':22}{'median':>8}{'p10':>8}{'p90':>8}   | {'user':>6}{'sys':>7} | "
                  f"phase medians:{'create':>8}{'start':>8}{'delete':>8}")
        print(header)
        print("-" * len(header))
        for runtime in self.runtimes:
            median, p10, p90 = summary(runtime.cpu)
            user, system = summary(runtime.cpu_user)[0], summary(runtime.cpu_sys)[0]
            phases = "".join(f"{summary(runtime.cpu_phases[p])[0]:8.2f}" for p in ("create", "start", "delete"))
            print(f"{runtime.name:22}{median:8.2f}{p10:8.2f}{p90:8.2f}   | {user:6.2f}{system:7.2f} | {'':14}{phases}")
        print("(user+sys CPU of each command and of the children it waited for, from wait4, not of the container's own "
              "process; the total is exact, the user/sys split is the kernel's tick-based estimate)")
        if self.wrapper:
            wrapped, plain, wrapper_rss, true_rss = self.wrapper
            w_median, w_p10, w_p90 = summary(wrapped)
            t_median, t_p10, t_p90 = summary(plain)
            print()
            print(f"crun wrapper ({os.path.relpath(WRAPPER, REPO)}: sh, unshare -m, sh, mount --bind, exec), "
                  f"timed alone exec'ing /bin/true, {n} runs alternating with a plain /bin/true:")
            print(f"  wrapper + /bin/true  median {w_median:6.2f}  p10 {w_p10:6.2f}  p90 {w_p90:6.2f} ms")
            print(f"  plain /bin/true      median {t_median:6.2f}  p10 {t_p10:6.2f}  p90 {t_p90:6.2f} ms   (the harness's cost of one spawn)")
            print(f"  wrapper cost         {net:6.2f} ms per crun create (difference of the medians)")
            print(f"  peak RSS of the wrapper chain exec'ing /bin/true {wrapper_rss / 1024:.1f} MiB "
                  f"(plain /bin/true: {true_rss / 1024:.1f} MiB)")
        print()
        for suffix in ("", " +seccomp"):
            berth = medians.get("berth-runtime" + suffix)
            if berth is None:
                continue
            for other in ("runc", "crun"):
                if other + suffix in medians:
                    print(f"ratio berth-runtime{suffix} / {other + suffix:22} {berth / medians[other + suffix]:6.3f}")
            if net is not None and "crun" + suffix in medians:
                print(f"ratio berth-runtime{suffix} / {'(crun' + suffix + ' minus wrapper)':22} {berth / (medians['crun' + suffix] - net):6.3f}")
        print()
        print(f"peak RSS, MiB (max of GNU time's %M over every invocation in {self.args.rss_cycles} separate cycles per runtime):")
        print(f"{'':22}{'overall':>9}{'create':>9}{'start':>9}{'delete':>9}")
        for runtime in self.runtimes:
            cells = "".join(f"{runtime.rss[c] / 1024:9.1f}" for c in ("create", "start", "delete"))
            note = "   (create includes the wrapper chain)" if runtime.wrap_create else ""
            print(f"{runtime.name:22}{max(runtime.rss.values()) / 1024:9.1f}{cells}{note}")
        if self.args.json:
            data = {r.name: {"cycles_ns": r.cycles, "phases_ns": r.phases, "peak_rss_kib": r.rss} for r in self.runtimes}
            if self.wrapper:
                data["wrapper"] = {"wrapped_ns": self.wrapper[0], "true_ns": self.wrapper[1], "peak_rss_kib": self.wrapper[2], "true_peak_rss_kib": self.wrapper[3]}
            with open(self.args.json, "w") as f:
                json.dump(data, f)

    # ---- cleanup ----
    def cleanup(self):
        for container_id, runtime in list(self.live.items()):
            subprocess.run([runtime.binary, "--root", runtime.root, "delete", "--force", container_id],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        reap_strays()
        # Cgroups a failed delete may have left (each runtime's default path for a container without cgroupsPath).
        prefix = f"bb-{self.tag}-"
        for base, dirs, _ in os.walk("/sys/fs/cgroup"):
            for name in dirs:
                if name.startswith(prefix):
                    try:
                        os.rmdir(os.path.join(base, name))
                    except OSError as error:
                        print(f"bench/runtime: left cgroup {os.path.join(base, name)}: {error}", file=sys.stderr)
            dirs[:] = [d for d in dirs if d in ("berth",) or base == "/sys/fs/cgroup"]
        with open("/proc/self/mountinfo") as f:
            mounts = sorted((line.split()[4] for line in f if line.split()[4].startswith(self.work)), reverse=True)
        for mount in mounts:
            subprocess.run(["umount", "-l", mount], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description="create+start+wait+delete cycles of /bin/true: berth-runtime vs runc vs crun")
    parser.add_argument("-n", "--iterations", type=int, default=int(os.environ.get("N", "100")),
                        help="counted cycles per runtime (default 100, or $N)")
    parser.add_argument("--state-on-disk", action="store_true",
                        help="state roots on the temp dir's filesystem instead of a tmpfs (as /run is on real hosts)")
    parser.add_argument("--warmup", type=int, default=3, help="uncounted cycles per runtime first (default 3)")
    parser.add_argument("--berth", help="berth-runtime binary (default: $BERTH_RUNTIME, .build-bench/release, .build/release)")
    parser.add_argument("--rss-cycles", type=int, default=20,
                        help="extra cycles per runtime, untimed, with each invocation under GNU time for peak RSS (default 20)")
    parser.add_argument("--only", help="comma-separated subset: berth,runc,crun")
    parser.add_argument("--json", help="also write every sample (ns) and peak RSS (KiB) to this file")
    parser.add_argument("--seccomp", choices=("none", "default", "both"), default="both",
                        help="without a seccomp profile, with podman's default one, or both cases alternating (default)")
    parser.add_argument("--cold", type=int, default=10,
                        help="cycles of berth-runtime +seccomp with its program cache emptied first (default 10)")
    args = parser.parse_args()
    if args.iterations < 1:
        die("-n must be at least 1")
    if os.geteuid() != 0:
        die("run as root")
    ensure_tools()
    bench = Bench(args)
    def interrupt(*_):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)     # also when started in the background, where SIGINT is ignored
    try:
        bench.prepare()
        bench.run()
    except KeyboardInterrupt:
        print("bench/runtime: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as error:
        print(f"bench/runtime: {error}", file=sys.stderr)
        return 1
    finally:
        bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
