#!/bin/bash
# Runs runc 1.1.5's own integration tests (bats, tests/integration/*.bats) against an OCI runtime with
# runc's command line: berth-runtime by default, or real runc for this host's baseline.
#   scripts/runc-bats.sh [FILE.bats ...]          (default: every file)
#   RUNC=/usr/sbin/runc scripts/runc-bats.sh      the baseline
#   BATS_FILTER=REGEX                             only tests whose name matches (bats -f)
#   RUNC_BATS_NO_SKIPS=1                          ignore tests/runc-bats/skips.txt (to re-judge it)
# As root. runc's source comes from Debian (apt-get source, cached in .build/runc-src); the images are
# tarballs of the local busybox rootfs (scripts/make-busybox-rootfs.sh): no network but Debian's mirror.
# Tests listed in tests/runc-bats/skips.txt (runc-internal, or failing with runc itself here) are skipped
# with their reason; failures listed in tests/runc-bats/known-failures.txt (areas other work owns) are
# reported as KNOWN. Prints one line per failure and "runc-bats: N passed, M failed, J known failures,
# K skipped"; exits non-zero if any other test that ran failed. TAP logs: .build/runc-bats/<runtime>/logs/.
set -uo pipefail
export LC_ALL=C
repo=$(cd "$(dirname "$0")/.." && pwd)
RUNC=${RUNC:-$repo/.build/debug/berth-runtime}
case $RUNC in /*) ;; *) RUNC=$PWD/$RUNC ;; esac
src_cache=$repo/.build/runc-src
work=$repo/.build/runc-bats
skips=$repo/tests/runc-bats/skips.txt
known_file=$repo/tests/runc-bats/known-failures.txt
version=1.1.5
per_file_timeout=${RUNC_BATS_FILE_TIMEOUT:-600}

die() { echo "runc-bats: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$RUNC" ] || die "no runtime at $RUNC"

# What the suite runs besides the runtime (gcc builds its test helpers and hook libraries).
packages=(bats gawk jq gcc libc6-dev dpkg-dev python3 busybox-static file util-linux iproute2 procps)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "runc-bats: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "could not install ${missing[*]}"
fi

# ---- runc's source, once ----
tree=$src_cache/runc-$version
if [ ! -f "$tree/tests/integration/helpers.bash" ]; then
    sources=/etc/apt/sources.list.d/debian-src.sources
    if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm' \
            'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' > "$sources"
        apt-get update -qq || die "apt-get update failed"
    fi
    rm -rf "$src_cache" && mkdir -p "$src_cache/download"
    # apt verified the download (signed Release, checksummed .dsc); _apt cannot write here, so it warns.
    (cd "$src_cache/download" && apt-get source --download-only -qq runc 2>&1 | grep -v '^W: Download is performed unsandboxed') 
    dsc=$(ls "$src_cache"/download/runc_"$version"+*.dsc 2>/dev/null | head -1)
    [ -n "$dsc" ] || die "apt-get source did not fetch runc $version (got: $(ls "$src_cache/download"))"
    # dpkg-source applies Debian's patches (two touch the tests: /dev/kmsg, seccomp on arm).
    dpkg-source --no-check -x "$dsc" "$tree" >/dev/null || die "dpkg-source -x $dsc failed"
fi

# ---- images: the busybox rootfs; "debian" is it plus glibc's static ldconfig (hooks.bats runs ldconfig) ----
# One directory per runtime, so a baseline with runc can run beside a berth-runtime run.
run_dir=$work/$(basename "$RUNC")
img=$run_dir/images
(
    rm -rf "$img" && mkdir -p "$img"
    "$repo/scripts/make-busybox-rootfs.sh" "$img/busybox" >/dev/null || die "make-busybox-rootfs failed"
    cp -a "$img/busybox" "$img/debian"
    # Docker's busybox image has no /proc or /sys (mask.bats replaces them with symlinks).
    rmdir "$img/busybox/proc" "$img/busybox/sys"
    tar -C "$img/busybox" -cf "$img/busybox.tar" . || die "tar busybox"
    mkdir -p "$img/debian/lib" "$img/debian/sbin"
    rm -f "$img/debian/sbin/ldconfig"
    cp /sbin/ldconfig "$img/debian/sbin/ldconfig"
    echo /lib > "$img/debian/etc/ld.so.conf"
    tar -C "$img/debian" -cf "$img/debian.tar" . || die "tar debian"
    rm -rf "$img/busybox" "$img/debian"
) || exit 1

# ---- a fresh copy of the tests, adapted ----
suite=$run_dir/integration
rm -rf "$suite" && cp -a "$tree/tests/integration" "$suite"
# The images are local tarballs instead of get-images.sh's downloads; recvtty is our Python stand-in.
sed -i \
    -e 's|^IMAGES=\$("\${INTEGRATION_ROOT}"/get-images.sh)$|IMAGES="BUSYBOX_IMAGE='"$img"'/busybox.tar DEBIAN_IMAGE='"$img"'/debian.tar"|' \
    -e 's|^RECVTTY=.*|RECVTTY="'"$repo"'/tests/runc-bats/recvtty.py"|' \
    "$suite/helpers.bash"
# Go's recvtty listens within milliseconds; Python takes longer, so wait for the socket.
sed -i '/^\t("\$RECVTTY" --pid-file "\$dir\/pid" --mode null "\$CONSOLE_SOCKET" &) &$/a\
\tfor _ in $(seq 200); do [ -S "$CONSOLE_SOCKET" ] \&\& break; sleep 0.02; done' "$suite/helpers.bash"
grep -q 'S "$CONSOLE_SOCKET" ] && break' "$suite/helpers.bash" || die "helpers.bash did not take the recvtty wait"
grep -q "BUSYBOX_IMAGE=$img/busybox.tar" "$suite/helpers.bash" || die "helpers.bash did not take the image patch"
grep -q 'runc-bats/recvtty.py' "$suite/helpers.bash" || die "helpers.bash did not take the recvtty patch"

# skips.txt: "FILE.bats | test name | reason"; each listed test gets a skip as its first statement.
if [ "${RUNC_BATS_NO_SKIPS:-}" != 1 ] && [ -f "$skips" ]; then
    while IFS= read -r line; do
        case $line in ''|'#'*) continue ;; esac
        file=$(awk -F' [|] ' '{print $1}' <<<"$line")
        name=$(awk -F' [|] ' '{print $2}' <<<"$line")
        reason=$(awk -F' [|] ' '{print $3}' <<<"$line")
        [ -f "$suite/$file" ] || die "skips.txt: no $file"
        grep -qF "@test \"$name\" {" "$suite/$file" || die "skips.txt: no test \"$name\" in $file"
        NAME="$name" REASON="$reason" awk '
            { print }
            $0 == "@test \"" ENVIRON["NAME"] "\" {" { r = ENVIRON["REASON"]; gsub(/["$`\\]/, "", r); print "\tskip \"" r "\"" }
        ' "$suite/$file" > "$suite/$file.new" && mv "$suite/$file.new" "$suite/$file"
    done < "$skips"
fi

# ---- run, file by file (a hung file is cut off and its unreported tests count as failed) ----
logs=$run_dir/logs
rm -rf "$logs" && mkdir -p "$logs"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=($(cd "$suite" && ls *.bats))
export RUNC
echo "runc-bats: runc $version's tests/integration against $RUNC"
started=$SECONDS
pass=0 fail=0 skip=0 known=0
# known-failures.txt: "FILE.bats | test name | why", berth-runtime failures whose area other work owns
# right now. They still run; a listed failure is reported as KNOWN and does not fail the run, a listed
# test that passes is reported so the line can go. RUNC_BATS_STRICT=1 (or running real runc) ignores it.
known_list=()
if [ "${RUNC_BATS_STRICT:-}" != 1 ] && [ "$(basename "$RUNC")" != runc ] && [ -f "$known_file" ]; then
    while IFS= read -r line; do
        case $line in ''|'#'*) continue ;; esac
        known_list+=("$(awk -F' [|] ' '{print $1 " | " $2}' <<<"$line")")
    done < "$known_file"
fi
is_known() { local k; for k in "${known_list[@]}"; do [ "$k" = "$1" ] && return 0; done; return 1; }
for f in "${files[@]}"; do
    f=$(basename "$f")
    [ -f "$suite/$f" ] || die "no $f in the suite"
    filter=()
    [ -n "${BATS_FILTER:-}" ] && filter=(-f "$BATS_FILTER")
    # Under script(1), as runc's CI runs it: a foreground "runc run" with terminal: true needs a
    # controlling terminal. The TAP stream goes to a file, not through the pty.
    # timeout stays outside: inside, it would put bats in a background process group of the pty.
    printf -v cmd '%q ' bats --tap "${filter[@]}" "$f"
    (cd "$suite" && timeout -k 10 "$per_file_timeout" \
        script -qec "$cmd > $(printf %q "$logs/$f.tap") 2>&1; echo \$? > $(printf %q "$logs/$f.rc")" /dev/null) </dev/null >/dev/null 2>&1
    rc=$?
    [ "$rc" = 124 ] || [ "$rc" = 137 ] || rc=$(cat "$logs/$f.rc" 2>/dev/null || echo 1)
    p=$(grep -c '^ok ' "$logs/$f.tap" | tr -d ' ')
    s=$(grep -c '^ok .* # skip' "$logs/$f.tap" | tr -d ' ')
    n=$(grep -c '^not ok ' "$logs/$f.tap" | tr -d ' ')
    planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$logs/$f.tap" | head -1)
    pass=$((pass + p - s)) skip=$((skip + s))
    while IFS= read -r name; do
        [ -n "$name" ] || continue
        if is_known "$f | $name"; then
            echo "KNOWN $f: $name"; known=$((known + 1))
        else
            echo "FAIL $f: $name"; fail=$((fail + 1))
        fi
    done < <(sed -n 's/^not ok [0-9]* //p' "$logs/$f.tap")
    while IFS= read -r name; do
        is_known "$f | $name" && echo "FIXED $f: $name (passes now: remove it from known-failures.txt)"
    done < <(grep '^ok ' "$logs/$f.tap" | grep -v '^ok .* # skip' | sed 's/^ok [0-9]* //')
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        lost=$(( ${planned:-0} - p - n ))
        [ "$lost" -gt 0 ] || lost=1
        echo "FAIL $f: timed out after ${per_file_timeout}s ($lost tests unreported)"
        fail=$((fail + lost))
    elif [ "$rc" != 0 ] && [ "$n" = 0 ]; then
        echo "FAIL $f: bats exited $rc without a failing test (see $logs/$f.tap)"
        fail=$((fail + 1))
    fi
done
echo "runc-bats: $pass passed, $fail failed, $known known failures, $skip skipped ($((SECONDS - started))s; logs in $logs)"
[ "$fail" = 0 ]
