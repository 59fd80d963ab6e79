#!/bin/bash
# Writes the fuzzers' seed corpora under DIR/NAME: valid inputs for each harness to mutate. Nothing here is
# committed as a binary: configs and manifests are written out below, tars are made with tar (and Python's
# tarfile for the hostile ones tar will not write), templates are taken from Tests/TemplateTests.
#   Fuzz/make-seeds.sh DIR [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$1"; shift
want() { [ $# -eq 0 ] && return 0; for n in "${names[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(RuntimeConfig SpecValidation ImageManifest LayerUnpack Template)

configs() {   # configs OUTDIR: runtime-spec configs
    local out="$1"
    mkdir -p "$out"
    cat > "$out/minimal.json" <<'JSON'
{"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"]},"linux":{"namespaces":[{"type":"mount"}]}}
JSON
    cat > "$out/runc-spec.json" <<'JSON'
{"ociVersion":"1.2.0","process":{"terminal":true,"user":{"uid":0,"gid":0,"additionalGids":[1,2]},"args":["sh"],
"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],"cwd":"/",
"capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_KILL"],
"permitted":["CAP_KILL"],"ambient":["CAP_KILL"]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],
"noNewPrivileges":true,"oomScoreAdj":100,"consoleSize":{"height":24,"width":80}},
"root":{"path":"rootfs","readonly":true},"hostname":"runc","domainname":"example.org",
"mounts":[{"destination":"/proc","type":"proc","source":"proc"},
{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]},
{"destination":"/data","type":"bind","source":"/srv","options":["rbind","rprivate"]}],
"hooks":{"prestart":[{"path":"/bin/true","args":["true"],"env":["A=1"],"timeout":5}],"poststop":[{"path":"/bin/true"}]},
"annotations":{"org.example":"x"},
"linux":{"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
"sysctl":{"net.ipv4.ip_forward":"1","kernel.shmmax":"4096"},
"resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}],
"memory":{"limit":104857600,"reservation":52428800,"swap":209715200,"swappiness":10,"disableOOMKiller":false},
"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0-1","mems":"0"},"pids":{"limit":100},
"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":300}],"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]},
"hugepageLimits":[{"pageSize":"2MB","limit":209715200}],"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":500}]}},
"cgroupsPath":"/berth/fuzz","namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},
{"type":"user"},{"type":"cgroup"}],
"devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438,"uid":0,"gid":0}],
"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
"flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"},
{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"valueTwo":0,"op":"SCMP_CMP_EQ"}]}]},
"maskedPaths":["/proc/kcore","/sys/firmware"],"readonlyPaths":["/proc/sys"],"rootfsPropagation":"rprivate",
"mountLabel":"","intelRdt":null}}
JSON
    cat > "$out/time-and-unified.json" <<'JSON'
{"ociVersion":"1.2.0","root":{"path":"/nonexistent"},"process":{"cwd":"relative","args":[],"apparmorProfile":"x",
"rlimits":[{"type":"RLIMIT_BOGUS","hard":1,"soft":2}]},"linux":{"namespaces":[{"type":"time"},{"type":"mount","path":"/proc/self/ns/mnt"},
{"type":"mount"}],"timeOffsets":{"monotonic":{"secs":1,"nanosecs":2}},"resources":{"unified":{"memory.max":"1M"},
"cpu":{"quota":10,"period":5},"pids":{"limit":-2}},"personality":{"domain":"LINUX32"}}}
JSON
    if [ -x .build/debug/berth-runtime ]; then
        local b; b=$(mktemp -d)
        .build/debug/berth-runtime spec --bundle "$b" && cp "$b/config.json" "$out/berth-runtime-spec.json"
        rm -f "$b/config.json"
        .build/debug/berth-runtime spec --rootless --bundle "$b" && cp "$b/config.json" "$out/berth-runtime-spec-rootless.json"
        rm -rf "$b"
    fi
}

if want RuntimeConfig; then configs "$dir/RuntimeConfig"; fi
if want SpecValidation; then configs "$dir/SpecValidation"; fi

if want ImageManifest; then
    out="$dir/ImageManifest"; mkdir -p "$out"
    d=sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
    cat > "$out/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$d","size":1469},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$d","size":2479,"urls":["https://example.com/l"],"annotations":{"a":"b"}}],"annotations":{"org.opencontainers.image.ref.name":"latest"}}
JSON
    cat > "$out/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$d","size":7143,"platform":{"architecture":"arm64","os":"linux","variant":"v8","os.version":"10","os.features":["sse4"]}},{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha512:$(printf 'a%.0s' {1..128})","size":1,"platform":{"architecture":"amd64","os":"linux"}}],"subject":{"mediaType":"x","digest":"$d","size":0}}
JSON
    cat > "$out/config.json" <<JSON
{"created":"2024-01-01T00:00:00Z","author":"fuzz","architecture":"amd64","os":"linux","config":{"User":"1000:1000","ExposedPorts":{"80/tcp":{}},"Env":["PATH=/bin"],"Entrypoint":["/bin/sh"],"Cmd":["-c","echo hi"],"Volumes":{"/data":{}},"WorkingDir":"/","Labels":{"a":"b"},"StopSignal":"SIGTERM"},"rootfs":{"type":"layers","diff_ids":["$d"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"/bin/sh","empty_layer":true}]}
JSON
    printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":3}' "$d" > "$out/descriptor.json"
    printf '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
    printf '%s' "$d" > "$out/digest"
    printf 'linux/arm64/v8' > "$out/platform"
fi

if want LayerUnpack; then
    out="$dir/LayerUnpack"; mkdir -p "$out"
    tree=$(mktemp -d)
    mkdir -p "$tree/etc/sub" "$tree/bin"
    echo hello > "$tree/etc/hello"; echo x > "$tree/etc/sub/file"
    ln -s ../etc/hello "$tree/bin/rel-link"; ln -s /etc/hello "$tree/bin/abs-link"
    ln "$tree/etc/hello" "$tree/bin/hard"
    mkfifo "$tree/fifo"; touch "$tree/etc/.wh.gone" "$tree/etc/sub/.wh..wh..opq"
    chmod 4755 "$tree/bin/hard"
    tar -C "$tree" --numeric-owner -cf "$out/ordinary.tar" .
    tar -C "$tree" --format=pax --numeric-owner -cf "$out/pax.tar" etc bin
    tar -C "$tree" --format=gnu -cf "$out/gnu.tar" etc
    tar -C "$tree" --format=ustar -cf "$out/ustar.tar" bin
    rm -rf "$tree"
    # Entries that try to leave the destination: the unpacker must refuse them or keep them inside.
    # BERTH_FUZZ_SCRATCH is where the harness unpacks (the escape target "outside" sits next to the destination).
    python3 - "$out" "${BERTH_FUZZ_SCRATCH:-/tmp/berth-fuzz-layer}" <<'PY'
import io, sys, tarfile
out, scratch = sys.argv[1], sys.argv[2]
def entry(tf, name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644):
    info = tarfile.TarInfo(name); info.type = kind; info.linkname = link; info.mode = mode; info.size = len(data)
    tf.addfile(info, io.BytesIO(data) if data else None)
def make(name, *entries, fmt=tarfile.PAX_FORMAT):
    with tarfile.open(f"{out}/{name}.tar", "w", format=fmt) as tf:
        for e in entries: entry(tf, *e)
make("dotdot", ("../outside/x", tarfile.REGTYPE, b"escape"))
make("absolute", ("/outside/x", tarfile.REGTYPE, b"abs"))
make("symlink-then-file", ("out", tarfile.SYMTYPE, b"", "../outside"), ("out/x", tarfile.REGTYPE, b"through"))
make("abs-symlink-then-file", ("out", tarfile.SYMTYPE, b"", f"{scratch}/outside"), ("out/x", tarfile.REGTYPE, b"t"))
make("hardlink-out", ("h", tarfile.LNKTYPE, b"", "../outside/x"))
make("hardlink-to-symlink-with-data", ("s", tarfile.SYMTYPE, b"", f"{scratch}/outside/victim"),
     ("h", tarfile.LNKTYPE, b"data", "s"))
make("whiteout-below-symlink", ("d", tarfile.SYMTYPE, b"", "../outside"), ("d/.wh.victim", tarfile.REGTYPE))
make("whiteout-dots", ("a/.wh..", tarfile.REGTYPE), (".wh...", tarfile.REGTYPE), ("b/.wh..wh..opq", tarfile.REGTYPE))
make("replace-dir-by-link", ("d", tarfile.DIRTYPE, b"", "", 0o755), ("d/f", tarfile.REGTYPE, b"1"),
     ("d", tarfile.SYMTYPE, b"", "../outside"), ("d/g", tarfile.REGTYPE, b"2"))
make("devices", ("null", tarfile.CHRTYPE), ("blk", tarfile.BLKTYPE), ("fifo", tarfile.FIFOTYPE))
make("root-entry", ("./", tarfile.DIRTYPE, b"", "", 0o700), (".", tarfile.REGTYPE, b"x"))
with tarfile.open(f"{out}/xattrs.tar", "w", format=tarfile.PAX_FORMAT) as tf:
    info = tarfile.TarInfo("x"); info.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y",
        "SCHILY.xattr.user.keep": "1"}; tf.addfile(info)
PY
fi

if want Template; then
    out="$dir/Template"; mkdir -p "$out"
    # Every string literal in the template tests that holds an action.
    python3 -W ignore - "$out" Tests/TemplateTests/*.swift <<'PY'
import hashlib, re, sys
out, files = sys.argv[1], sys.argv[2:]
seen = set()
for path in files:
    text = open(path, encoding="utf-8").read()
    for raw in re.findall(r'#"(.*?)"#', text) + [bytes(s, "utf-8").decode("unicode_escape", "ignore")
                                                   for s in re.findall(r'(?<!#)"((?:[^"\\\n]|\\.)*)"', text)]:
        if "{{" not in raw or raw in seen: continue
        seen.add(raw)
        open(f"{out}/{hashlib.sha1(raw.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}", "wb").write(raw.encode("utf-8", "surrogatepass"))
PY
fi
