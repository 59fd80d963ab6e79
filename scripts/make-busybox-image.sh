#!/bin/sh
# Builds the busybox test image from Debian's busybox-static, in the formats berth must read:
#   DIR/oci          OCI image layout (umoci), tag busybox
#   DIR/oci.tar      OCI archive (skopeo), ref busybox:latest
#   DIR/docker.tar   docker-archive (skopeo), RepoTags busybox:latest
# Usage: make-busybox-image.sh DIR        (needs umoci, skopeo, busybox-static)
set -eu
dir=${1:?usage: make-busybox-image.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
cd "$dir"
rm -rf oci bundle rootfs oci.tar docker.tar
sh "$here/make-busybox-rootfs.sh" rootfs
umoci init --layout oci
umoci new --image oci:busybox
umoci unpack --image oci:busybox bundle >/dev/null
rm -rf bundle/rootfs
cp -a rootfs bundle/rootfs
umoci repack --image oci:busybox bundle
umoci config --image oci:busybox --config.cmd /bin/sh --config.cmd -c --config.cmd 'echo hello from berth' \
    --config.env PATH=/bin:/usr/bin --config.workingdir / --config.label org.example.test=busybox
rm -rf bundle rootfs
skopeo --insecure-policy copy -q oci:oci:busybox "oci-archive:$dir/oci.tar:busybox:latest"
skopeo --insecure-policy copy -q oci:oci:busybox "docker-archive:$dir/docker.tar:busybox:latest"
