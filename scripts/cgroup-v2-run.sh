#!/bin/bash
# Runs a command on a real cgroup-v2-only kernel and carries its exit code out.
#
#   scripts/cgroup-v2-run.sh                  # run the CgroupsTests suite (after `swift build --build-tests`)
#   scripts/cgroup-v2-run.sh --filter NAME    # ... only the tests matching NAME
#   scripts/cgroup-v2-run.sh -- CMD [ARG...]  # run any command, e.g. -- .build/debug/berth cgroup ls
#
# The guest boots with cgroup_no_v1=all and cgroup2 mounted at /sys/fs/cgroup; its root is the host's
# own / (read-only, with a throwaway writable layer), so everything built here runs inside unchanged,
# in the same working directory. Two ways to get that kernel, tried in this order (BERTH_V2_BACKEND):
#
#   uml   user-mode Linux (/usr/bin/linux.uml, package user-mode-linux): the kernel as an ordinary
#         process, ~2 s to boot. Debian's 6.1 build cannot run on CPUs whose extended register state
#         is larger than it expects (AMX: "ptrace set fp regs failed"); then the next one is used.
#   qemu  qemu-system-x86_64 with TCG (packages qemu-system-x86, linux-image-amd64, busybox-static)
#         and Debian's stock kernel, the host / shared over 9p. ~10 s to boot, programs run 10-50x slower.
#
# Environment: BERTH_V2_BACKEND (auto|uml|qemu, default auto), BERTH_V2_MEM (MiB, default 2048),
# BERTH_V2_CPUS (qemu, default 2), BERTH_V2_TIMEOUT (seconds, default 1800), BERTH_V2_VERBOSE=1 shows
# the guest kernel's messages. Missing packages are installed with apt-get.
# Exit codes: the command's; 124 on timeout; 125 if no guest could run it.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BACKEND=${BERTH_V2_BACKEND:-auto}
MEM=${BERTH_V2_MEM:-2048}
CPUS=${BERTH_V2_CPUS:-2}
TIMEOUT=${BERTH_V2_TIMEOUT:-1800}
VERBOSE=${BERTH_V2_VERBOSE:-}

say() { echo "cgroup-v2-run: $*" >&2; }

FILTER=CgroupsTests
if [ "${1:-}" = "--filter" ]; then FILTER=$2; shift 2; fi
if [ "${1:-}" = "--" ]; then
    shift
else
    BUNDLE=$(ls -td "$ROOT"/.build/debug/*PackageTests.xctest 2>/dev/null | head -1)
    if [ -z "$BUNDLE" ]; then say "no test bundle: run 'swift build --build-tests' first"; exit 125; fi
    set -- "$BUNDLE" --testing-library swift-testing --filter "$FILTER"
fi
[ $# -ge 1 ] || { say "usage: $0 [--filter NAME] [-- CMD ARG...]"; exit 2; }

# The job folder lives in the repository's .build: the guest sees it through its root and mounts it
# writable to hand back the output and the exit code.
mkdir -p "$ROOT/.build/cgroup-v2"
JOB=$(mktemp -d "$ROOT/.build/cgroup-v2/job.XXXXXX")
trap 'rm -rf "$JOB"' EXIT
{
    printf 'export PATH=%q HOME=/tmp TERM=dumb\n' "$PATH"
    # berth's own settings reach the guest (BERTH_DEFAULT_NETWORK, ...); the runner's BERTH_V2_* do not.
    env | grep '^BERTH_' | grep -v '^BERTH_V2_' | while IFS= read -r setting; do printf 'export %q\n' "$setting"; done
    printf 'cd %q || exit 125\n' "$PWD"
    printf '%q ' "$@"; printf '\n'
} > "$JOB/cmd"

# What runs inside once the root is in place: mounts, cgroup2, the command, its exit code.
cat > "$JOB/guest.sh" <<'GUEST'
JOB=$1
# busybox's mount works before /proc and /etc/mtab make sense.
M="mount"; command -v busybox >/dev/null && M="busybox mount"
$M -t proc proc /proc
$M -t sysfs sys /sys
$M -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
$M -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
$M -t tmpfs tmpfs /dev/shm
$M -t tmpfs tmpfs /run
# A writable /tmp always (the user-mode guest's root is the host's, read-only; its kernel has no overlayfs).
# A checkout under /tmp must stay visible there: its top directory (with the job folder's own mount, where
# the output goes back to the host) is carried onto the new tmpfs.
case "$JOB" in
    /tmp/*)
        top="/tmp/$(echo "${JOB#/tmp/}" | cut -d/ -f1)"
        mkdir -p /run/checkout
        $M -o rbind "$top" /run/checkout
        $M -t tmpfs tmpfs /tmp
        mkdir -p "$top"
        $M -o rbind /run/checkout "$top" ;;
    *) $M -t tmpfs tmpfs /tmp ;;
esac
$M -t cgroup2 cgroup2 /sys/fs/cgroup
# A writable /etc, for the rootless tests' useradd and /etc/subuid: on the user-mode guest's read-only root,
# a copy on /run's tmpfs bound over it (the qemu guest's root already has a writable layer).
if touch /etc/.berth-writable 2>/dev/null; then rm -f /etc/.berth-writable
else mkdir -p /run/etc && cp -a /etc/. /run/etc/ 2>/dev/null; $M -o bind /run/etc /etc; fi
hostname cgroup-v2 2>/dev/null
ip link set lo up 2>/dev/null
{
    echo "--- cgroup v2 guest: kernel $(uname -r), $(nproc) cpu, controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
    /bin/bash "$JOB/cmd" < /dev/null 2>&1
    echo $? > "$JOB/rc.tmp"
} > "$JOB/out" 2>&1
mv "$JOB/rc.tmp" "$JOB/rc"
sync
GUEST

# Shows the command's output as it is written, until the guest process ends.
follow() { # PID
    touch "$JOB/out"
    tail -n +1 --pid="$1" -f "$JOB/out" 2>/dev/null
}

finish() { # STATUS
    if [ "$1" = 124 ]; then say "timed out after ${TIMEOUT}s"; exit 124; fi
    if [ -s "$JOB/rc" ]; then exit "$(cat "$JOB/rc")"; fi
    return 1
}

run_uml() {
    local uml=${BERTH_UML:-/usr/bin/linux.uml}
    if [ ! -x "$uml" ]; then
        say "installing user-mode-linux"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q user-mode-linux >/dev/null 2>&1 || return 1
    fi
    cat > "$JOB/init" <<INIT
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t hostfs -o $JOB none $JOB
sh $JOB/guest.sh $JOB
echo o > /proc/sysrq-trigger
sleep 10
INIT
    chmod +x "$JOB/init"
    # (in a subshell that exits normally, so a crashing kernel does not make bash print "Aborted")
    (timeout --kill-after=10 "$TIMEOUT" "$uml" mem="${MEM}M" rootfstype=hostfs rootflags=/ ro init="$JOB/init" \
        cgroup_no_v1=all quiet con=null con0=fd:0,fd:1 < /dev/null > "$JOB/console" 2>&1; exit $?) &
    local pid=$!
    follow $pid
    wait $pid
    local status=$?
    stty sane 2>/dev/null
    [ -n "$VERBOSE" ] && cat "$JOB/console" >&2
    finish $status && return 0
    if grep -q 'fp regs failed' "$JOB/console"; then
        say "user-mode Linux cannot run on this CPU (ptrace set fp regs failed)"
    else
        say "user-mode Linux gave no exit code; its console:"; tail -5 "$JOB/console" >&2
    fi
    return 1
}

# qemu: Debian's kernel, an initramfs with busybox and the 9p/overlay modules (cached per kernel).
run_qemu() {
    local need=()
    command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
    ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-amd64)
    file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need+=(busybox-static)
    if [ ${#need[@]} -gt 0 ]; then
        say "installing ${need[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 || return 1
    fi
    local image version cache initrd vmlinux kernel
    image=$(ls -1 /boot/vmlinuz-* | sort -V | tail -1)
    version=${image#/boot/vmlinuz-}
    cache="$ROOT/.build/cgroup-v2/kernel-$version"
    initrd="$cache/initramfs.cpio.gz"
    vmlinux="$cache/vmlinux"
    mkdir -p "$cache"
    if [ ! -s "$initrd" ]; then
        local d mods="" m f
        d=$(mktemp -d "$cache/initramfs.XXXXXX")
        mkdir -p "$d"/{bin,proc,sys,dev,lower,rw,newroot,modules}
        cp /bin/busybox "$d/bin/busybox"
        for m in virtio_pci 9pnet_virtio 9p overlay; do
            for f in $(modprobe -S "$version" --show-depends $m 2>/dev/null | awk '$1=="insmod"{print $2}'); do
                case " $mods " in *" $(basename "$f") "*) ;; *) mods="$mods $(basename "$f")"; cp "$f" "$d/modules/";; esac
            done
        done
        cat > "$d/init" <<INIT
#!/bin/busybox sh
B=/bin/busybox
\$B mount -t proc proc /proc; \$B mount -t sysfs sys /sys; \$B mount -t devtmpfs dev /dev
for m in $mods; do \$B insmod /modules/\$m 2>/dev/null; done
\$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || echo "cgroup-v2-run: 9p root failed" > /dev/ttyS0
\$B mount -t tmpfs -o mode=755 tmpfs /rw; \$B mkdir -p /rw/upper /rw/work
\$B mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot
JOB=\$(\$B sed -n 's/.*berth.job=\([^ ]*\).*/\1/p' /proc/cmdline)
\$B mkdir -p /newroot\$JOB
\$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none job /newroot\$JOB || echo "cgroup-v2-run: 9p job failed" > /dev/ttyS0
\$B umount /proc /sys; \$B mount --move /dev /newroot/dev
exec \$B switch_root /newroot /bin/sh -c "sh \$JOB/guest.sh \$JOB; echo o > /proc/sysrq-trigger; sleep 10"
INIT
        chmod +x "$d/init"
        (cd "$d" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$initrd.tmp" && mv "$initrd.tmp" "$initrd"
        rm -rf "$d"
    fi
    # The uncompressed kernel boots directly (PVH), skipping decompression that costs seconds under TCG.
    if [ ! -s "$vmlinux" ] && grep -q '^CONFIG_PVH=y' "/boot/config-$version" 2>/dev/null && command -v python3 >/dev/null; then
        python3 - "$image" "$vmlinux" <<'PY' 2>/dev/null
import lzma, sys
data = open(sys.argv[1], 'rb').read(); start = data.find(b'\xfd7zXZ\x00')
if start >= 0:
    open(sys.argv[2] + '.tmp', 'wb').write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:]))
PY
        [ -s "$vmlinux.tmp" ] && mv "$vmlinux.tmp" "$vmlinux"
    fi
    kernel=$([ -s "$vmlinux" ] && echo "$vmlinux" || echo "$image")
    timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m "$MEM" -smp "$CPUS" \
        -display none -monitor none -no-reboot -serial "file:$JOB/console" \
        -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyS0 quiet panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 berth.job=$JOB" \
        -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
        -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
        -fsdev local,id=job,path="$JOB",security_model=none \
        -device virtio-9p-pci,fsdev=job,mount_tag=job < /dev/null > /dev/null 2>&1 &
    local pid=$!
    follow $pid
    wait $pid
    local status=$?
    [ -n "$VERBOSE" ] && cat "$JOB/console" >&2
    finish $status && return 0
    say "qemu gave no exit code; its console:"; tail -5 "$JOB/console" >&2
    return 1
}

case "$BACKEND" in
    uml) run_uml ;;
    qemu) run_qemu ;;
    *) run_uml || { rm -f "$JOB/out" "$JOB/console"; say "trying qemu"; run_qemu; } ;;
esac
exit 125
