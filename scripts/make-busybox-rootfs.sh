#!/bin/sh
# Builds a busybox root filesystem from Debian's busybox-static: the fixture every test and the demo run on.
# Usage: make-busybox-rootfs.sh DIR   (DIR/bin/busybox plus one symlink per applet, and the usual top dirs)
set -eu
dir=${1:?usage: make-busybox-rootfs.sh DIR}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-busybox-rootfs: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'dynamically' && { echo "make-busybox-rootfs: $busybox is not static" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home var/run run mnt
chmod 1777 tmp
cp "$busybox" bin/busybox
for applet in $(./bin/busybox --list); do
    [ -e "bin/$applet" ] || ln -s busybox "bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >> etc/passwd
echo 'root:x:0:' > etc/group
echo 'nogroup:x:65534:' >> etc/group
echo 'berth' > etc/hostname
