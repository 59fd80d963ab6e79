#!/bin/sh
# Image benchmark: load and pull the same image with berth, podman and skopeo, side by side, from a local
# registry (Debian's docker-registry on 127.0.0.1). Prints the median of RUNS runs (default 3) and berth's
# throughput in uncompressed layer MB/s: of `berth load` (hash, store, unpack) and of unpacking alone.
#
# Usage: bench/images.sh            (root; needs docker-registry, skopeo, umoci, podman, busybox-static)
#   BERTH=path/to/berth  RUNS=5
# skopeo copies blobs only (no unpacking); podman and berth both unpack into overlay-ready storage.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
berth=${BERTH:-}
if [ -z "$berth" ]; then
    for candidate in "$here/.build/release/berth" "$here/.build/debug/berth"; do
        [ -x "$candidate" ] && { berth=$candidate; break; }
    done
fi
[ -x "$berth" ] || { echo "bench/images: build berth first (swift build -c release --product berth)" >&2; exit 1; }

work=$(mktemp -d /tmp/berth-bench-images.XXXXXX)
registry_pid=
cleanup() {
    set +e
    if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null; fi
    for m in $(awk -v w="$work" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "building the bench image..." >&2
sh "$here/scripts/make-bench-image.sh" "$work/image" >/dev/null
archive="$work/image/docker.tar"
bytes=$(stat -c %s "$archive")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry_pid=$!
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.1; done
skopeo --insecure-policy copy -q --dest-tls-verify=false oci:"$work/image/oci:bench" "docker://127.0.0.1:$port/bench:1"
ref="127.0.0.1:$port/bench:1"

now() { date +%s.%N; }
# time_it NAME SETUP COMMAND: runs SETUP untimed then COMMAND timed, RUNS times; prints the median seconds.
time_it() {
    name=$1; setup=$2; command=$3
    times=""
    for i in $(seq "$runs"); do
        sh -c "$setup" >/dev/null 2>&1
        start=$(now)
        sh -c "$command" >/dev/null 2>"$work/err" || { echo "bench/images: $name failed: $(cat "$work/err")" >&2; exit 1; }
        end=$(now)
        times="$times $(echo "$end - $start" | bc -l)"
    done
    echo $times | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'
}

pod="podman --root $work/podman/root --runroot $work/podman/run --storage-driver overlay"
reset_berth="rm -rf $work/berth"
reset_podman="$pod rmi -a -f; $pod system reset -f; rm -rf $work/podman"
reset_skopeo="rm -rf $work/skopeo"

berth_load=$(time_it "berth load" "$reset_berth" "$berth load --root $work/berth -i $archive")
podman_load=$(time_it "podman load" "$reset_podman" "$pod load -i $archive")
skopeo_load=$(time_it "skopeo copy (archive)" "$reset_skopeo" "skopeo --insecure-policy copy -q docker-archive:$archive oci:$work/skopeo:bench")
berth_pull=$(time_it "berth pull" "$reset_berth" "$berth pull --root $work/berth $ref")
podman_pull=$(time_it "podman pull" "$reset_podman" "$pod pull -q --tls-verify=false $ref")
skopeo_pull=$(time_it "skopeo copy (registry)" "$reset_skopeo" "skopeo --insecure-policy copy -q --src-tls-verify=false docker://$ref oci:$work/skopeo:bench")
# unpack alone: every layer of the pulled (gzip) image applied to a plain directory (bundle --copy)
unpack=$(time_it "berth unpack" "$berth image unbundle --root $work/berth $work/bundle" \
    "$berth image bundle --root $work/berth --copy $ref $work/bundle")
"$berth" image unbundle --root "$work/berth" "$work/bundle" >/dev/null 2>&1 || true
sh -c "$reset_podman" >/dev/null 2>&1 || true

mb=$(echo "$bytes / 1000000" | bc -l)
printf 'image: %.0f MB uncompressed, %s layers, %s runs (median), berth: %s\n' "$mb" \
    "$(tar -xOf "$archive" manifest.json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["Layers"]))')" \
    "$runs" "$berth"
printf '%-28s %10s %10s %10s\n' "operation" "berth" "podman" "skopeo*"
printf '%-28s %9.3fs %9.3fs %9.3fs\n' "load docker-archive" "$berth_load" "$podman_load" "$skopeo_load"
printf '%-28s %9.3fs %9.3fs %9.3fs\n' "pull from local registry" "$berth_pull" "$podman_pull" "$skopeo_pull"
printf '%-28s %8.0f MB/s  (hash, store and unpack an uncompressed archive)\n' "berth load throughput" "$(echo "$mb / $berth_load" | bc -l)"
printf '%-28s %8.0f MB/s  (gunzip, verify digest and diffID, write files)\n' "berth unpack throughput" "$(echo "$mb / $unpack" | bc -l)"
echo "* skopeo copies blobs to an OCI layout and does not unpack layers"
