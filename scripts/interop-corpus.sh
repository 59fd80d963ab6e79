#!/bin/bash
# The interop corpus: busybox images written by every image tool Debian has that runs on this host, and the
# other direction, archives written by berth loaded back into those tools. Everything is built locally from
# Debian's busybox-static (scripts/make-busybox-rootfs.sh), with no network; tool storage, daemons' data roots
# and sockets live under the directory given, daemons are started by hand and stopped before the script exits.
# Run by Tests/ImagesTests/InteropTests.swift (root).
#
#   interop-corpus.sh produce DIR
#       writes DIR/<name>.tar archives and DIR/corpus.tsv, one line each, tab-separated:
#         archive  NAME  FORMAT  FILE  what made it          a docker-archive or oci-archive for `berth load`
#         skip     TOOL  why                                 a tool that cannot run here, and why
#         fail     TOOL  why                                 a tool that should have worked and did not
#   interop-corpus.sh consume TOOL DIR LIST
#       LIST: lines "FORMAT<TAB>FILE<TAB>CONFIG-DIGEST" (archives berth saved). TOOL (skopeo, podman, umoci,
#       buildah, docker, containerd) loads each in its own storage under DIR, checks the image ID is the config
#       digest and, where the tool unpacks images, runs /bin/busybox echo ok from the unpacked rootfs (chroot);
#       docker runs it as a container. What a tool does not implement is a "skip" line, recognised from the tool's
#       own error: umoci reads OCI layouts only, and umoci 0.4.7 reads neither zstd layers nor docker-typed
#       manifests; docker 20.10 reads no zstd layers. One line per archive on stdout: "ok FILE: ..." / "skip FILE: why" /
#       "fail FILE: why"; a tool that cannot run here prints one "skip TOOL: why" line.
#
# What each tool writes (produce):
#   umoci 0.4.7   an OCI layout (init/new, unpack/repack of the rootfs, then `umoci insert` of one file, whose
#                 layer tar ends right after the file's data: no padding, no end-of-archive blocks), tarred as it
#                 is (umoci-layout), and copied by skopeo into an oci-archive and a docker-archive
#   skopeo 1.9    the umoci layout as an oci-archive with zstd layers (--dest-compress-format zstd). skopeo's
#                 dir: format is not an archive: berth load reads docker-archive and oci-archive only
#   buildah 1.28  from scratch, copy of the rootfs, config, commit; buildah push docker-archive: and oci-archive:
#   podman 4.3    podman import of a rootfs tar; podman save --format docker-archive and oci-archive
#   docker 20.10  dockerd (Debian's docker.io) in a temp data root: docker import, docker save
#   containerd    containerd 1.6 in a temp root: ctr image import of docker's archive (podman's when docker did
#                 not run), ctr image export (an OCI archive with docker media types and a manifest.json)
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
here=$(cd "$(dirname "$0")" && pwd)
docker_cli=/usr/bin/docker   # Debian's client, the version of its dockerd (another one may come first on PATH)
tag=bi$$                     # names this run's containerd namespace and cgroups

to() { local s=$1; shift; timeout -k 5 "$s" "$@"; }
has() { command -v "$1" >/dev/null 2>&1; }

# ---------- daemons and cleanup ----------
daemons=()
stop_daemon() { # PIDFILE
    local pid; pid=$(cat "$1" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
}
cleanup() {
    trap - EXIT INT TERM
    local f pid
    for f in "${daemons[@]}"; do stop_daemon "$f"; done
    # a shim or containerd that outlived its daemon: only processes whose command line names our directory
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        case $(cat "/proc/$pid/comm" 2>/dev/null) in containerd*|dockerd|runc) ;; *) continue ;; esac
        { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "$W/" && kill -9 "$pid" 2>/dev/null
    done
    findmnt -rn -o TARGET 2>/dev/null | grep "^$W/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    for d in /sys/fs/cgroup/*/"$tag" /sys/fs/cgroup/"$tag" /sys/fs/cgroup/*/"$tag-docker" /sys/fs/cgroup/"$tag-docker"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    # ctr and the shim make these whatever the daemon's state directory; removed only if empty
    rm -rf "/run/containerd/runc/$tag" "/run/containerd/io.containerd.runtime.v2.task/$tag" 2>/dev/null
    rmdir /run/containerd/runc /run/containerd/io.containerd.runtime.v2.task /run/containerd/fifo /run/containerd/s \
        /run/containerd 2>/dev/null
    [ -n "${pm_run:-}" ] && { findmnt -rn -o TARGET | grep "^$pm_run/" | sort -r | while read -r m; do umount -l "$m"; done
        rm -rf "$pm_run"; }
}

start_dockerd() { # DIR: dockerd in DIR (data root, exec root, socket); no bridge, no iptables (no host changes)
    mkdir -p "$1"
    dockerd --data-root "$1/data" --exec-root "$1/exec" --pidfile "$1/docker.pid" -H "unix://$1/docker.sock" \
        --iptables=false --ip-masq=false --bridge=none --cgroup-parent "/$tag-docker" >"$1/log" 2>&1 &
    echo $! >"$1/dockerd.pid"
    daemons+=("$1/dockerd.pid")
    for _ in $(seq 1 150); do dk version >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}
dk() { to 120 "$docker_cli" -H "unix://$D/docker.sock" "$@"; }

start_containerd() { # DIR
    mkdir -p "$1"
    cat >"$1/config.toml" <<EOF
version = 2
root = "$1/root"
state = "$1/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$1/containerd.sock"
[ttrpc]
  address = "$1/containerd.sock.ttrpc"
[debug]
  address = "$1/debug.sock"
EOF
    containerd --config "$1/config.toml" >"$1/log" 2>&1 &
    echo $! >"$1/containerd.pid"
    daemons+=("$1/containerd.pid")
    for _ in $(seq 1 100); do ct version >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
ct() { to 120 ctr --address "$C/containerd.sock" -n "$tag" "$@"; }

# podman refuses a run root longer than 50 characters: it gets a short directory of its own, removed on exit
pm() { [ -n "${pm_run:-}" ] || { echo "pm: no run root" >&2; return 1; }
    to 120 podman --root "$W/podman/root" --runroot "$pm_run" --tmpdir "$W/podman/tmp" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file "$@"; }
bh() { to 120 buildah --root "$W/buildah/root" --runroot "$W/buildah/run" --storage-driver vfs "$@"; }

# ---------- produce ----------
record() { printf '%s\n' "$(IFS=$'\t'; echo "$*")" >>"$W/corpus.tsv"; }
# attempt TOOL FUNCTION: runs a producer with its output in logs/TOOL.log; a failure is recorded with its last line
attempt() {
    local tool=$1; shift
    if ! "$@" >>"$W/logs/$tool.log" 2>&1; then
        record fail "$tool" "$(grep -v '^+' "$W/logs/$tool.log" | tail -1)"
    fi
}

produce_umoci() {
    local L=$W/umoci/layout
    mkdir -p "$W/umoci"
    umoci init --layout "$L" &&
    umoci new --image "$L:1" &&
    umoci unpack --image "$L:1" "$W/umoci/bundle" >/dev/null &&
    rm -rf "$W/umoci/bundle/rootfs" && cp -a "$W/rootfs" "$W/umoci/bundle/rootfs" &&
    umoci repack --image "$L:1" "$W/umoci/bundle" &&
    echo "inserted by umoci" >"$W/umoci/inserted" &&
    umoci insert --image "$L:1" "$W/umoci/inserted" /etc/inserted &&
    umoci config --image "$L:1" --config.cmd /bin/busybox --config.cmd echo --config.cmd "hello from umoci" &&
    rm -rf "$W/umoci/bundle" || return 1
    # the layout as umoci wrote it, byte for byte (its index names the tag "1" only: the image loads untagged)
    tar -C "$L" -cf "$W/umoci-layout.tar" . || return 1
    record archive umoci-layout oci-archive "$W/umoci-layout.tar" "umoci 0.4.7 OCI layout, tarred"
    to 120 skopeo --insecure-policy copy -q "oci:$L:1" "oci-archive:$W/umoci-oci.tar:localhost/made-by-umoci:1" || return 1
    record archive umoci-oci oci-archive "$W/umoci-oci.tar" "umoci layout, skopeo copy to oci-archive"
    to 120 skopeo --insecure-policy copy -q "oci:$L:1" "docker-archive:$W/umoci-docker.tar:localhost/made-by-umoci:1" || return 1
    record archive umoci-docker docker-archive "$W/umoci-docker.tar" "umoci layout, skopeo copy to docker-archive"
}

produce_skopeo() {
    [ -d "$W/umoci/layout" ] || { record skip skopeo "no umoci layout to copy (umoci failed)"; return 0; }
    to 120 skopeo --insecure-policy copy -q --dest-compress-format zstd "oci:$W/umoci/layout:1" \
        "oci-archive:$W/skopeo-zstd.tar:localhost/made-by-skopeo:zstd" || return 1
    record archive skopeo-zstd oci-archive "$W/skopeo-zstd.tar" "skopeo copy --dest-compress-format zstd to oci-archive"
}

produce_buildah() {
    local c
    mkdir -p "$W/buildah"
    c=$(bh from scratch) &&
    bh copy "$c" "$W/rootfs/" / &&
    bh config --cmd '["/bin/busybox","echo","hello from buildah"]' "$c" &&
    bh commit -q "$c" localhost/made-by-buildah:1 &&
    bh push -q localhost/made-by-buildah:1 "docker-archive:$W/buildah-docker.tar:localhost/made-by-buildah:1" &&
    bh push -q localhost/made-by-buildah:1 "oci-archive:$W/buildah-oci.tar:localhost/made-by-buildah:1" || return 1
    record archive buildah-docker docker-archive "$W/buildah-docker.tar" "buildah from scratch, commit, push docker-archive:"
    record archive buildah-oci oci-archive "$W/buildah-oci.tar" "buildah from scratch, commit, push oci-archive:"
}

produce_podman() {
    mkdir -p "$W/podman/tmp" && pm_run=$(mktemp -d /tmp/berth-pm.XXXXXX) || return 1
    pm import "$W/rootfs.tar" localhost/made-by-podman:1 &&
    pm save --format docker-archive -o "$W/podman-docker.tar" localhost/made-by-podman:1 &&
    pm save --format oci-archive -o "$W/podman-oci.tar" localhost/made-by-podman:1 || return 1
    record archive podman-docker docker-archive "$W/podman-docker.tar" "podman import, podman save --format docker-archive"
    record archive podman-oci oci-archive "$W/podman-oci.tar" "podman import, podman save --format oci-archive"
}

produce_docker() {
    D=$W/docker
    if ! start_dockerd "$D"; then record skip docker "dockerd did not start: $(tail -1 "$D/log")"; return 0; fi
    dk import "$W/rootfs.tar" localhost/made-by-docker:1 && dk save -o "$W/docker.tar" localhost/made-by-docker:1 || return 1
    record archive docker docker-archive "$W/docker.tar" "dockerd 20.10: docker import, docker save"
    stop_daemon "$D/dockerd.pid"
}

produce_containerd() {
    C=$W/containerd
    local source=$W/docker.tar
    [ -f "$source" ] || source=$W/podman-docker.tar
    [ -f "$source" ] || { record skip containerd "no docker-archive to import (docker and podman failed)"; return 0; }
    if ! start_containerd "$C"; then record skip containerd "containerd did not start: $(tail -1 "$C/log")"; return 0; fi
    ct image import "$source" &&
    ct image tag "$(ct image ls -q | head -1)" localhost/made-by-containerd:1 &&
    ct image export "$W/containerd.tar" localhost/made-by-containerd:1 || return 1
    record archive containerd oci-archive "$W/containerd.tar" "containerd 1.6: ctr image import of $(basename "$source"), ctr image export"
    stop_daemon "$C/containerd.pid"
}

produce() {
    mkdir -p "$W/logs"
    : >"$W/corpus.tsv"
    sh "$here/make-busybox-rootfs.sh" "$W/rootfs" && tar -C "$W/rootfs" -cf "$W/rootfs.tar" . ||
        { record fail rootfs "make-busybox-rootfs.sh failed"; return; }
    if has umoci && has skopeo; then attempt umoci produce_umoci; else record skip umoci "umoci or skopeo not installed"; fi
    if has skopeo; then attempt skopeo produce_skopeo; else record skip skopeo "skopeo not installed"; fi
    if has buildah; then attempt buildah produce_buildah; else record skip buildah "buildah not installed"; fi
    if has podman; then attempt podman produce_podman; else record skip podman "podman not installed"; fi
    if has dockerd && [ -x "$docker_cli" ]; then attempt docker produce_docker; else record skip docker "docker.io not installed"; fi
    if has containerd && has ctr; then attempt containerd produce_containerd; else record skip containerd "containerd not installed"; fi
}

# ---------- consume ----------
# Runs /bin/busybox echo ok from an unpacked rootfs.
runs_ok() { [ "$(to 30 chroot "$1" /bin/busybox echo ok 2>&1)" = ok ]; }
say() { echo "$*"; }
# Whether an OCI archive's manifests name zstd layers.
zstd_layers() {
    python3 - "$1" <<'EOF'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as tar:
    blob = lambda d: json.load(tar.extractfile("blobs/sha256/" + d.split(":")[1]))
    index = json.load(tar.extractfile("index.json"))
    sys.exit(0 if any(l["mediaType"].endswith("+zstd") for m in index["manifests"] for l in blob(m["digest"])["layers"]) else 1)
EOF
}

consume_one() { # TOOL FORMAT FILE CONFIG N  (prints one line; N numbers the archive's directories)
    local tool=$1 format=$2 file=$3 config=$4 n=$5 out id dir ref
    case $tool in
    skopeo)
        # the config as skopeo reads it must hash to the image ID; copying to an OCI layout verifies every blob
        out=$(to 60 skopeo inspect --raw --config "$format:$file" 2>/dev/null | sha256sum | cut -d' ' -f1)
        [ "sha256:$out" = "$config" ] || { say "fail $file: skopeo inspect: the config it reads hashes to sha256:$out"; return; }
        mkdir -p "$W/skopeo"
        to 120 skopeo --insecure-policy copy -q "$format:$file" "oci:$W/skopeo/layout-$n:1" >"$W/log" 2>&1 ||
            { say "fail $file: skopeo copy: $(tail -1 "$W/log")"; return; }
        rm -rf "$W/skopeo/layout-$n"
        say "ok $file: skopeo inspect (the config is the image ID), skopeo copy to an OCI layout" ;;
    podman)
        pm load -q -i "$file" >"$W/log" 2>&1 || { say "fail $file: podman load: $(tail -1 "$W/log")"; return; }
        id=$(pm image inspect --format '{{.Id}}' "${config#sha256:}" 2>/dev/null)
        [ "sha256:${id#sha256:}" = "$config" ] || { say "fail $file: podman has no image $config after load"; return; }
        dir=$(pm image mount "$config" 2>"$W/log") || { say "fail $file: podman image mount: $(tail -1 "$W/log")"; return; }
        runs_ok "$dir" || { pm image unmount "$config" >/dev/null 2>&1; say "fail $file: busybox does not run from podman's rootfs"; return; }
        pm image unmount "$config" >/dev/null 2>&1
        pm rmi -f "$config" >/dev/null 2>&1
        say "ok $file: podman load, image ID, podman image mount + busybox echo ok" ;;
    umoci)
        [ "$format" = oci-archive ] || { say "skip $file: umoci reads OCI layouts only"; return; }
        dir=$W/umoci/layout-$n
        mkdir -p "$dir" && tar -C "$dir" -xf "$file" || { say "fail $file: cannot extract the layout"; return; }
        local name; name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])' "$dir/index.json" 2>/dev/null)
        [ -n "$name" ] || { say "fail $file: no org.opencontainers.image.ref.name in index.json for umoci"; return; }
        if ! umoci unpack --image "$dir:$name" "$W/umoci/bundle-$n" >"$W/log" 2>&1; then
            # umoci's own words for what 0.4.7 does not implement
            if grep -q 'blob is not correct mediatype: application/vnd.oci.image.layer.v1.tar+zstd' "$W/log"; then
                say "skip $file: umoci 0.4.7 reads no zstd layers"
            elif grep -q 'not implemented: application/vnd.docker.distribution.manifest.v2+json' "$W/log"; then
                say "skip $file: umoci 0.4.7 reads OCI manifests only (this layout's manifest has docker's media type)"
            else
                say "fail $file: umoci unpack: $(tail -1 "$W/log")"
            fi
            rm -rf "$dir"; return
        fi
        runs_ok "$W/umoci/bundle-$n/rootfs" || { say "fail $file: busybox does not run from umoci's rootfs"; return; }
        rm -rf "$W/umoci/bundle-$n" "$dir"
        say "ok $file: umoci unpack (tag $name) + busybox echo ok" ;;
    buildah)
        bh pull -q "$format:$file" >"$W/log" 2>&1 || { say "fail $file: buildah pull $format: $(tail -1 "$W/log")"; return; }
        id=$(bh images -q --no-trunc | grep -c "${config#sha256:}")
        [ "$id" -ge 1 ] || { say "fail $file: buildah has no image $config after pull"; return; }
        local c; c=$(bh from -q "${config#sha256:}" 2>"$W/log") || { say "fail $file: buildah from: $(tail -1 "$W/log")"; return; }
        dir=$(bh mount "$c" 2>"$W/log") || { bh rm "$c" >/dev/null 2>&1; say "fail $file: buildah mount: $(tail -1 "$W/log")"; return; }
        runs_ok "$dir"; local rc=$?
        bh umount "$c" >/dev/null 2>&1; bh rm "$c" >/dev/null 2>&1; bh rmi -f "${config#sha256:}" >/dev/null 2>&1
        [ $rc = 0 ] || { say "fail $file: busybox does not run from buildah's rootfs"; return; }
        say "ok $file: buildah pull $format:, image ID, buildah from + mount + busybox echo ok" ;;
    docker)
        dk load -i "$file" >"$W/log" 2>&1 || {
            if grep -q 'archive/tar: invalid tar header' "$W/log" && zstd_layers "$file"; then
                say "skip $file: docker 20.10 reads no zstd layers ($(tail -1 "$W/log"))"
            else
                say "fail $file: docker load: $(tail -1 "$W/log")"
            fi
            return; }
        id=$(dk image inspect --format '{{.Id}}' "$config" 2>/dev/null)
        [ "$id" = "$config" ] || { say "fail $file: docker has no image $config after load"; return; }
        out=$(dk run --rm --network none "$config" /bin/busybox echo ok 2>&1)
        [ "$out" = ok ] || { say "fail $file: docker run: $out"; return; }
        dk rmi -f "$config" >/dev/null 2>&1
        say "ok $file: docker load, image ID, docker run busybox echo ok" ;;
    containerd)
        ct image import "$file" >"$W/log" 2>&1 || { say "fail $file: ctr image import: $(tail -1 "$W/log")"; return; }
        # "unpacking NAME (sha256:MANIFEST)...done"; the manifest must name the image ID as its config
        ref=$(sed -n 's/^unpacking \(.*\) (\(sha256:[0-9a-f]*\)).*/\1/p' "$W/log" | head -1)
        out=$(sed -n 's/^unpacking .* (\(sha256:[0-9a-f]*\)).*/\1/p' "$W/log" | head -1)
        [ -n "$ref" ] || { say "fail $file: ctr image import named no image: $(tail -1 "$W/log")"; return; }
        id=$(ct content get "$out" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["digest"])' 2>/dev/null)
        [ "$id" = "$config" ] || { say "fail $file: containerd's manifest of $ref names config $id"; return; }
        mkdir -p "$W/mnt-$n"
        ct image mount "$ref" "$W/mnt-$n" >"$W/log" 2>&1 || { say "fail $file: ctr image mount: $(tail -1 "$W/log")"; return; }
        runs_ok "$W/mnt-$n"; local rc=$?
        ct image unmount --rm "$W/mnt-$n" >/dev/null 2>&1
        # --sync: containerd collects the content at once, not while the next import reuses the same blobs
        ct image rm --sync "$ref" >/dev/null 2>&1
        [ $rc = 0 ] || { say "fail $file: busybox does not run from containerd's snapshot"; return; }
        say "ok $file: ctr image import ($ref), the manifest names the image ID, ctr image mount + busybox echo ok" ;;
    esac
}

consume() { # TOOL LIST
    local tool=$1 list=$2 n=0 format file config
    case $tool in
    skopeo|umoci) has "$tool" || { say "skip $tool: not installed"; return; } ;;
    podman) has podman || { say "skip podman: not installed"; return; }
        mkdir -p "$W/podman/tmp" && pm_run=$(mktemp -d /tmp/berth-pm.XXXXXX) || { say "fail podman: mktemp"; return; } ;;
    buildah) has buildah || { say "skip buildah: not installed"; return; } ;;
    docker)
        { has dockerd && [ -x "$docker_cli" ]; } || { say "skip docker: docker.io not installed"; return; }
        D=$W/docker
        start_dockerd "$D" || { say "skip docker: dockerd did not start: $(tail -1 "$D/log")"; return; } ;;
    containerd)
        { has containerd && has ctr; } || { say "skip containerd: not installed"; return; }
        C=$W/containerd
        start_containerd "$C" || { say "skip containerd: containerd did not start: $(tail -1 "$C/log")"; return; } ;;
    *) say "fail $tool: unknown tool"; return ;;
    esac
    while IFS=$'\t' read -r format file config <&3; do
        [ -n "$format" ] || continue
        n=$((n + 1))
        consume_one "$tool" "$format" "$file" "$config" "$n" </dev/null
    done 3<"$list"
}

case ${1:-} in
produce)
    [ $# = 2 ] || { echo "usage: interop-corpus.sh produce DIR" >&2; exit 2; }
    mkdir -p "$2" && W=$(cd "$2" && pwd)
    trap cleanup EXIT; trap 'exit 130' INT TERM
    produce ;;
consume)
    [ $# = 4 ] || { echo "usage: interop-corpus.sh consume TOOL DIR LIST" >&2; exit 2; }
    mkdir -p "$3/consume-$2" && W=$(cd "$3/consume-$2" && pwd)
    trap cleanup EXIT; trap 'exit 130' INT TERM
    consume "$2" "$4" ;;
*) echo "usage: interop-corpus.sh produce DIR | consume TOOL DIR LIST" >&2; exit 2 ;;
esac
