#!/bin/bash
# Builds the libFuzzer harnesses in Fuzz/ (with AddressSanitizer), makes their seed corpora, replays the
# regression inputs in Fuzz/regressions/, then fuzzes each harness for a bounded time.
#
#   scripts/fuzz.sh [--seconds N] [--build-only] [NAME...]     (NAME: RuntimeConfig SpecValidation
#                                                               ImageManifest LayerUnpack Template)
#
# Exit status is non-zero if a harness fails to build, a regression input fails, or fuzzing finds a crash
# (the reproducer's path is printed). Each harness prints one summary line:
#   fuzz NAME: N executions, cov C, ft F, corpus K, crashes X
# The modules are compiled straight with swiftc into .build-fuzz/ (not through SwiftPM: a sanitized,
# coverage-instrumented copy of the whole package, with its own dependency resolution, is not needed for
# the five pure-ish modules fuzzed here). Corpora live in .build-fuzz/corpus/NAME and grow between runs.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v swiftc >/dev/null || export PATH=/opt/swift/usr/bin:$PATH

seconds=60
build_only=0
names=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --build-only) build_only=1; shift ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) names+=("$1"); shift ;;
    esac
done
all=(RuntimeConfig SpecValidation ImageManifest LayerUnpack Template)
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")
for name in "${names[@]}"; do
    [ -f "Fuzz/$name/Harness.swift" ] || { echo "fuzz.sh: no harness $name (known: ${all[*]})" >&2; exit 2; }
done

out=.build-fuzz
mods=$out/modules
mkdir -p "$mods" "$out/bin"
# A crash must not wait on the Swift runtime's interactive backtracer (it can hang without a terminal):
# ASan and libFuzzer print what is needed.
export SWIFT_BACKTRACE=enable=no
san=(-sanitize=fuzzer,address)
swiftflags=(-O -g -parse-as-library -enable-testing -swift-version 6 "${san[@]}" -I "$mods"
            -I Sources/CSeccomp -I Sources/CArchive -I Sources/CCrypto
            -Xcc -fmodule-map-file="$mods/CBerth/module.modulemap")

# Rebuilds a module only when one of its sources (or a module it imports) is newer than its object.
newer() {   # newer TARGET FILE...
    local target="$1"; shift
    [ -f "$target" ] || return 0
    for f in "$@"; do [ "$f" -nt "$target" ] && return 0; done
    return 1
}

build_c_module() {
    mkdir -p "$mods/CBerth"
    printf 'module CBerth {\n    umbrella "%s/Sources/CBerth/include"\n    export *\n}\n' "$PWD" > "$mods/CBerth/module.modulemap.new"
    cmp -s "$mods/CBerth/module.modulemap.new" "$mods/CBerth/module.modulemap" \
        || mv "$mods/CBerth/module.modulemap.new" "$mods/CBerth/module.modulemap"
    rm -f "$mods/CBerth/module.modulemap.new"
    for c in Sources/CBerth/*.c; do
        local o="$mods/CBerth/$(basename "$c" .c).o"
        if newer "$o" "$c" Sources/CBerth/include/*.h; then
            clang -c -O1 -g -fsanitize=address -I Sources/CBerth/include "$c" -o "$o" || return 1
        fi
    done
}

build_swift_module() {   # build_swift_module NAME DEPENDENCY...
    local name="$1"; shift
    local deps=() sources=(Sources/"$name"/*.swift)
    for d in "$@"; do deps+=("$mods/$d.swiftmodule"); done
    if newer "$mods/$name.o" "${sources[@]}" "${deps[@]}"; then
        echo "fuzz: compiling $name" >&2
        swiftc "${swiftflags[@]}" -suppress-warnings -wmo -module-name "$name" -emit-module -emit-module-path "$mods/$name.swiftmodule" \
            -c -o "$mods/$name.o" "${sources[@]}" || return 1
        # swiftc leaves an output that came out byte-identical untouched: mark it rebuilt.
        touch "$mods/$name.o" "$mods/$name.swiftmodule"
    fi
}

# Which modules each harness links, in dependency order, and the system libraries they need.
modules_for() {
    case "$1" in
        RuntimeConfig|ImageManifest) echo "OCISpec" ;;
        SpecValidation) echo "OCISpec Linux Cgroups Runtime" ;;
        LayerUnpack) echo "OCISpec Linux Images" ;;
        Template) echo "OCISpec Template" ;;
    esac
}
deps_of() {
    case "$1" in
        OCISpec) echo "" ;;
        Template) echo "OCISpec" ;;
        Linux) echo "OCISpec" ;;
        Cgroups) echo "Linux OCISpec" ;;
        Runtime) echo "Cgroups Linux OCISpec" ;;
        Images) echo "OCISpec Linux" ;;
    esac
}

build_harness() {
    local name="$1" objects=() m
    for m in $(modules_for "$name"); do
        if [ "$m" = Linux ]; then objects+=("$mods"/CBerth/*.o); fi
        # shellcheck disable=SC2046
        build_swift_module "$m" $(deps_of "$m") || return 1
        objects+=("$mods/$m.o")
    done
    local bin="$out/bin/$name"
    if newer "$bin" Fuzz/"$name"/*.swift Fuzz/Check.swift "${objects[@]}"; then
        echo "fuzz: linking $name" >&2
        swiftc "${swiftflags[@]}" -module-name "${name}Fuzz" Fuzz/"$name"/*.swift Fuzz/Check.swift "${objects[@]}" \
            -lseccomp -larchive -lcrypto -o "$bin" 2> "$out/$name.link.log" \
            || { cat "$out/$name.link.log" >&2; return 1; }
    fi
}

build_c_module || { echo "fuzz.sh: building CBerth failed" >&2; exit 1; }
for name in "${names[@]}"; do
    build_harness "$name" || { echo "fuzz.sh: building the $name harness failed" >&2; exit 1; }
done
[ "$build_only" = 1 ] && exit 0

# The layer harness unpacks here; the seeds aim absolute symlinks at its bait directory.
export BERTH_FUZZ_SCRATCH="$PWD/$out/layer-scratch"
rm -rf "$out/seeds"
./Fuzz/make-seeds.sh "$out/seeds" "${names[@]}" || { echo "fuzz.sh: making the seed corpora failed" >&2; exit 1; }

# The layer harness unpacks hostile tars as root: it runs in a private mount namespace in which every mount
# is read-only except its own scratch directory and the corpus/artifact directories, so that an escape the
# harness exists to catch cannot also damage this machine.
sandboxed() {   # sandboxed WRITABLE_DIR... -- COMMAND...
    local writable=()
    while [ "$1" != -- ]; do writable+=("$(realpath "$1")"); shift; done
    shift
    unshare --mount --propagation private -- bash -c '
        writable=()
        while [ "$1" != -- ]; do writable+=("$1"); shift; done; shift
        for w in "${writable[@]}"; do mount --bind "$w" "$w" || exit 1; done
        tac /proc/self/mountinfo | while read -r _ _ _ _ point _; do
            point=$(printf "%b" "$point")
            for w in "${writable[@]}"; do [ "$point" = "$w" ] && continue 2; done
            mount -o remount,bind,ro "$point" 2>/dev/null
        done
        exec "$@"' sandbox "${writable[@]}" -- "$@"
}

failed=0
for name in "${names[@]}"; do
    bin="$out/bin/$name"
    corpus="$out/corpus/$name"
    artifacts="$out/artifacts/$name"
    regressions="$out/regressions/$name"
    rm -rf "$artifacts" "$regressions"
    mkdir -p "$corpus" "$artifacts" "$regressions"
    # Regression inputs are committed as text (.txt) or base64 (.b64) and decoded here.
    for f in Fuzz/regressions/"$name"/*; do
        [ -f "$f" ] || continue
        case "$f" in
            *.b64) base64 -d "$f" > "$regressions/$(basename "$f" .b64)" ;;
            *) cp "$f" "$regressions/" ;;
        esac
    done
    log="$out/$name.log"
    runner=()
    scratch=""
    if [ "$name" = LayerUnpack ]; then
        scratch="$BERTH_FUZZ_SCRATCH"
        rm -rf "$scratch"; mkdir -p "$scratch"
        runner=(sandboxed "$out" --)
    fi
    # Every regression input, then every seed and corpus input, must pass before fuzzing starts.
    if ls "$regressions"/* >/dev/null 2>&1; then
        if ! "${runner[@]}" "$bin" "$regressions"/* > "$log.regressions" 2>&1; then
            echo "fuzz $name: a regression input fails:"; failed=1
            grep -E '^Running:|FUZZ CHECK|ERROR|SUMMARY' "$log.regressions" | tail -6
            [ -n "$scratch" ] && rm -rf "$scratch"
            continue
        fi
    fi
    max_len=4096
    [ "$name" = LayerUnpack ] && max_len=16384
    "${runner[@]}" "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -max_len=$max_len \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$out/seeds/$name" > "$log" 2>&1
    status=$?
    [ -n "$scratch" ] && rm -rf "$scratch"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    crashes=$(find "$artifacts" -type f | wc -l)
    echo "fuzz $name: ${execs:-0} executions, cov ${cov:-0}, ft ${ft:-0}, corpus $(find "$corpus" -type f | wc -l), crashes $crashes"
    if [ "$status" != 0 ] || [ "$crashes" != 0 ]; then
        failed=1
        grep -E 'ERROR|SUMMARY|Fatal error|FUZZ CHECK' "$log" | head -5
        for f in "$artifacts"/*; do [ -f "$f" ] && echo "  reproducer: $f (replay: $bin $f)"; done
        echo "  log: $log"
    fi
done
# The SpecValidation harness's fixed bundle (an empty rootfs directory).
rm -rf /tmp/berth-fuzz-validation
exit $failed
