#!/bin/sh
# Builds the benchmark image: the busybox rootfs plus three layers copied from the host's /usr (about 300 MB
# uncompressed, ~10k files), as an OCI layout DIR/oci (tag bench) and a docker-archive DIR/docker.tar.
# Usage: make-bench-image.sh DIR        (needs umoci, skopeo, busybox-static)
set -eu
dir=${1:?usage: make-bench-image.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
cd "$dir"
rm -rf oci bundle docker.tar
umoci init --layout oci
umoci new --image oci:bench
umoci unpack --image oci:bench bundle >/dev/null
rm -rf bundle/rootfs
sh "$here/make-busybox-rootfs.sh" bundle/rootfs
umoci repack --image oci:bench bundle
for part in usr/share/doc usr/share/locale usr/lib/x86_64-linux-gnu/perl; do
    [ -d "/$part" ] || continue
    tar -C / -cf layer.tar "$part"
    umoci raw add-layer --image oci:bench layer.tar
    rm -f layer.tar
done
umoci config --image oci:bench --config.cmd /bin/true
rm -rf bundle
skopeo --insecure-policy copy -q oci:oci:bench "docker-archive:$dir/docker.tar:bench:latest"
