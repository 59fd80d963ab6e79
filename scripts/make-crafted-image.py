#!/usr/bin/env python3
"""Writes small OCI archives with hand-made layers, for the image store's tests: whiteout semantics and every
kind of bad input (hostile tar paths, corrupted or missing blobs, unknown media types).

Usage: make-crafted-image.py OUT.tar KIND [OUTSIDE_DIR]
KIND: many-layers (60 layers, layer-N files, the last whites out layer-0) | zstd (one zstd-compressed layer; needs the zstd command) | multiarch (an index of linux/amd64 and linux/arm64 images, each with /arch naming it) | whiteouts | dotdot | absolute | symlink-escape | symlink-relative | hardlink-escape | whiteout-escape | whiteout-dotdot |
      corrupt-blob | missing-blob | unknown-media-type | overlay-xattr |
      no-padding (the layer ends right after its last file's data: no block padding, no end-of-archive blocks, as
      umoci 0.4.7's insert layers) | no-padding-plain (the same, uncompressed) | partial-padding (ends inside the
      padding) | truncated-entry (ends inside the last file's data; digests match the cut bytes) |
      no-padding-wrong-diffid (no-padding, but the config's diffID is that of the whole tar) |
      hardlink-body (a pax hard link with a body, as pax allows, last in a layer that ends right after that body)
"""
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile


def entry(tar, name, kind="file", data=b"", target=None, mode=0o644, pax=None, owner=(0, 0), device=None):
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.mtime = 1700000000
    info.uid, info.gid = owner
    if pax:
        info.pax_headers = pax
    if kind == "dir":
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
    elif kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = target
        tar.addfile(info)
    elif kind == "chardev":
        info.type = tarfile.CHRTYPE
        info.devmajor, info.devminor = device
        tar.addfile(info)
    elif kind == "hardlink":
        info.type = tarfile.LNKTYPE
        info.linkname = target
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def layer(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            entry(tar, *e[:2], **(e[2] if len(e) > 2 else {}))
    plain = raw.getvalue()
    return plain, gzip.compress(plain, mtime=0)


def hardlink_with_body(name, target, body):
    """A pax hard link entry that carries a body (tarfile writes no size for links: the header is patched)."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(body), 0o644, 1700000000
    info.pax_headers = {"comment": "pax hard link with a body"}
    header = bytearray(info.tobuf(tarfile.PAX_FORMAT))
    ustar = len(header) - 512
    header[ustar + 156] = ord("1")
    header[ustar + 157:ustar + 257] = target.encode().ljust(100, b"\0")
    header[ustar + 148:ustar + 156] = b" " * 8
    header[ustar + 148:ustar + 156] = b"%06o\0 " % sum(header[ustar:])
    return bytes(header) + body


def cut(plain, where):
    """The tar cut after its last member's data (+ `where` bytes; negative: inside the data)."""
    last = tarfile.open(fileobj=io.BytesIO(plain)).getmembers()[-1]
    return plain[:last.offset_data + last.size + where]


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_archive(out, blobs, index):
    with tarfile.open(out, "w") as tar:
        for name, data in [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)] + \
                [("blobs/sha256/" + d.split(":")[1], b) for d, b in blobs.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def multiarch(out):
    blobs = {}
    entries = []
    for arch in ("amd64", "arm64"):
        plain, compressed = layer([("arch", "file", {"data": arch.encode()})])
        blobs[sha(compressed)] = compressed
        config = json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/cat", "/arch"]},
                             "rootfs": {"type": "layers", "diff_ids": [sha(plain)]}}).encode()
        blobs[sha(config)] = config
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": sha(config), "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                           "digest": sha(compressed), "size": len(compressed)}]}).encode()
        blobs[sha(manifest)] = manifest
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
                        "size": len(manifest), "platform": {"architecture": arch, "os": "linux"}})
    inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries}).encode()
    blobs[sha(inner)] = inner
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(inner), "size": len(inner),
         "annotations": {"org.opencontainers.image.ref.name": "crafted/multiarch:latest"}}]}).encode()
    write_archive(out, blobs, index)


def main():
    out, kind = sys.argv[1], sys.argv[2]
    if kind == "multiarch":
        return multiarch(out)
    outside = sys.argv[3] if len(sys.argv) > 3 else "/nonexistent-berth-test"
    layers = []
    if kind == "whiteouts":
        layers.append(layer([("a", "dir"), ("a/x", "file", {"data": b"x"}), ("a/y", "file", {"data": b"y"}),
                             ("b", "dir"), ("b/keep", "file", {"data": b"k"}), ("b/gone", "file", {"data": b"g"}),
                             ("f", "file", {"data": b"f"}), ("hello", "file", {"data": b"hello", "mode": 0o755}),
                             ("link", "symlink", {"target": "hello"}), ("hard", "hardlink", {"target": "hello"}),
                             ("owned", "file", {"data": b"o", "mode": 0o4750, "owner": (1000, 1001),
                                                "pax": {"SCHILY.xattr.user.berth": "kept"}}),
                             ("null", "chardev", {"device": (1, 3), "mode": 0o666})]))
        layers.append(layer([("a", "dir"), ("a/.wh..wh..opq", "file"), ("a/z", "file", {"data": b"z"}),
                             ("b/.wh.gone", "file"), (".wh.f", "file"), ("new", "file", {"data": b"new"})]))
    elif kind == "dotdot":
        layers.append(layer([("ok", "file", {"data": b"ok"}), ("../../../../escape-dotdot", "file", {"data": b"x"})]))
    elif kind == "absolute":
        layers.append(layer([(outside + "/abs-escape", "file", {"data": b"x"})]))
    elif kind == "symlink-escape":
        layers.append(layer([("evil", "symlink", {"target": outside}), ("evil/pwned", "file", {"data": b"x"})]))
    elif kind == "symlink-relative":
        layers.append(layer([("evil", "symlink", {"target": "../../../../../../../../" + outside.lstrip("/")}),
                             ("evil/pwned", "file", {"data": b"x"})]))
    elif kind == "hardlink-escape":
        layers.append(layer([("evil", "symlink", {"target": outside}), ("stolen", "hardlink", {"target": "evil/victim"})]))
    elif kind == "whiteout-dotdot":
        layers.append(layer([("ok", "file", {"data": b"ok"}), (".wh...", "file")]))
    elif kind == "whiteout-escape":
        layers.append(layer([("evil", "symlink", {"target": outside}), ("evil/.wh.victim", "file")]))
    elif kind == "overlay-xattr":
        layers.append(layer([("d", "dir"), ("d/f", "file", {"data": b"f", "pax": {"SCHILY.xattr.trusted.overlay.opaque": "y"}})]))
    elif kind == "hardlink-body":
        whole, _ = layer([("hello", "file", {"data": b"hello"})])
        plain = cut(whole, 512 - 5) + hardlink_with_body("hard", "hello", b"HELLO")
        layers.append((plain, gzip.compress(plain, mtime=0)))
    elif kind in ("no-padding", "no-padding-plain", "partial-padding", "truncated-entry", "no-padding-wrong-diffid"):
        data = b"x" * 1000 if kind == "truncated-entry" else b"extra\n"
        whole, _ = layer([("etc", "dir"), ("etc/hostname", "file", {"data": b"crafted\n"}),
                          ("etc/extra.txt", "file", {"data": data, "mode": 0o600})])
        plain = cut(whole, {"partial-padding": 100, "truncated-entry": -400}.get(kind, 0))
        layers.append((plain, gzip.compress(plain, mtime=0)))
    else:
        layers.append(layer([("hello", "file", {"data": b"hello"})]))

    if kind == "many-layers":
        layers = [layer([("layer-%d" % i, "file", {"data": b"%d" % i})]) for i in range(59)]
        layers.append(layer([("layer-59", "file", {"data": b"59"}), (".wh.layer-0", "file")]))
    if kind == "zstd":
        plain, _ = layer([("hello", "file", {"data": b"zstd layer"})])
        layers = [(plain, subprocess.run(["zstd", "-q", "-c"], input=plain, stdout=subprocess.PIPE, check=True).stdout)]

    if kind == "no-padding-plain":
        layers = [(plain, plain) for plain, _ in layers]
    diff_ids = [sha(plain) for plain, _ in layers]
    if kind == "no-padding-wrong-diffid":
        diff_ids = [sha(whole)]
    blobs = {}
    descriptors = []
    for plain, compressed in layers:
        digest = sha(compressed)
        blobs[digest] = compressed
        media_type = "application/vnd.oci.image.layer.v1.tar" + \
            {"zstd": "+zstd", "no-padding-plain": ""}.get(kind, "+gzip")
        descriptors.append({"mediaType": media_type, "digest": digest,
                            "size": len(compressed)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/hello"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    blobs[sha(config)] = config
    if kind == "corrupt-blob":
        digest = descriptors[0]["digest"]
        data = bytearray(blobs[digest])
        data[len(data) // 2] ^= 0xFF
        blobs[digest] = bytes(data)
    if kind == "missing-blob":
        del blobs[descriptors[0]["digest"]]
    if kind == "unknown-media-type":
        descriptors[0]["mediaType"] = "application/vnd.example.unknown.layer"
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha(config), "size": len(config)},
                           "layers": descriptors}).encode()
    blobs[sha(manifest)] = manifest
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest), "size": len(manifest),
         "annotations": {"org.opencontainers.image.ref.name": "crafted/" + kind + ":latest"}}]}).encode()
    write_archive(out, blobs, index)


main()
