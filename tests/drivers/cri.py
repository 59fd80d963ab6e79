#!/usr/bin/python3
"""A minimal CRI client (what the kubelet does for a pod), to drive containerd's CRI plugin with a runtime handler.
Usage: cri.py SOCKET HANDLER IMAGE CGROUP_PARENT
Runs a host-network pod sandbox with runtime_handler=HANDLER, a container in it, ExecSync, stop and removal,
printing one "ok   NAME" or "FAIL NAME" line per step (details indented). Needs python3-grpcio only: the few
runtime.v1 messages are encoded by hand (field numbers from k8s.io/cri-api runtime/v1 api.proto)."""
import sys
import time
import grpc

sock, handler, image, cgroup_parent = sys.argv[1:5]
channel = grpc.insecure_channel("unix://" + sock)
failed = 0


# ---- protobuf wire format: just what these messages need ----
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


def f_int(field, n):
    return varint(field << 3 | 0) + varint(n & 0xFFFFFFFFFFFFFFFF)


def parse(data):
    """-> {field: [values]}: bytes for length-delimited, int for varints."""
    out, i = {}, 0
    while i < len(data):
        key, i = read_varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = read_varint(data, i)
        elif wire == 2:
            n, i = read_varint(data, i)
            v, i = data[i:i + n], i + n
        elif wire == 1:
            v, i = data[i:i + 8], i + 8
        elif wire == 5:
            v, i = data[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        out.setdefault(field, []).append(v)
    return out


def read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def call(method, request, timeout=60):
    fn = channel.unary_unary("/runtime.v1.RuntimeService/" + method,
                             request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return parse(fn(request, timeout=timeout))


def step(name, fn):
    global failed
    try:
        detail = fn()
        print("ok   " + name, flush=True)
        return detail
    except Exception as e:  # a failed step: show why, go on where the next step can
        failed += 1
        print("FAIL " + name, flush=True)
        for line in str(e).splitlines()[:12]:
            print("     | " + line, flush=True)
        return None


# ---- the pod ----
NODE = 2
# no hostname (field 2): with the node's network and UTS namespaces there is none to set (runc refuses it too)
ns_options = f_int(1, NODE) + f_int(2, 1) + f_int(3, NODE)        # network NODE, pid CONTAINER, ipc NODE
sandbox_config = (f_bytes(1, f_bytes(1, "berth-pod") + f_bytes(2, "uid-berth-pod") + f_bytes(3, "default"))
                  + f_bytes(8, f_bytes(1, cgroup_parent) + f_bytes(2, f_bytes(1, ns_options))))
state = {}


def run_pod():
    r = call("RunPodSandbox", f_bytes(1, sandbox_config) + f_bytes(2, handler))
    state["pod"] = r[1][0].decode()


def create_container():
    config = (f_bytes(1, f_bytes(1, "hello"))
              + f_bytes(2, f_bytes(1, image))
              + f_bytes(3, "/bin/sh") + f_bytes(4, "-c")
              + f_bytes(4, 'echo started > /tmp/started; trap "exit 0" TERM; while true; do sleep 0.1; done')
              + f_bytes(6, f_bytes(1, "GREETING") + f_bytes(2, "hello from a pod")))
    r = call("CreateContainer", f_bytes(1, state["pod"]) + f_bytes(2, config) + f_bytes(3, sandbox_config))
    state["ctr"] = r[1][0].decode()


def container_state():
    r = call("ContainerStatus", f_bytes(1, state["ctr"]))
    status = parse(r[1][0])
    return status.get(3, [0])[0], status.get(7, [0])[0]          # state, exit_code


def start_container():
    call("StartContainer", f_bytes(1, state["ctr"]))
    for _ in range(50):
        if container_state()[0] == 1:                                # CONTAINER_RUNNING
            return
        time.sleep(0.1)
    raise RuntimeError("container state %r, want RUNNING (1)" % (container_state(),))


def exec_sync():
    r = call("ExecSync", f_bytes(1, state["ctr"]) + f_bytes(2, "/bin/sh") + f_bytes(2, "-c")
             + f_bytes(2, 'cat /tmp/started; echo "$GREETING"; exit 3') + f_int(3, 30))
    out = r.get(1, [b""])[0].decode()
    code = r.get(3, [0])[0]
    if out != "started\nhello from a pod\n" or code != 3:
        raise RuntimeError("stdout %r exit %d, want 'started\\nhello from a pod\\n' exit 3; stderr %r"
                           % (out, code, r.get(2, [b""])[0]))


def handler_used():
    # the runc v2 shim runs the handler's BinaryName with --root /run/containerd/runc/k8s.io
    import subprocess
    out = subprocess.run([sys.argv[5], "--root", "/run/containerd/runc/k8s.io", "list", "-q"],
                         capture_output=True, text=True).stdout.split()
    if state["ctr"] not in out or state["pod"] not in out:
        raise RuntimeError("berth-runtime list in /run/containerd/runc/k8s.io: %r; want pod %s and container %s"
                           % (out, state["pod"], state["ctr"]))


def stop_container():
    call("StopContainer", f_bytes(1, state["ctr"]) + f_int(2, 10))
    st, code = container_state()
    if st != 2 or code != 0:
        raise RuntimeError("state %d exit %d, want EXITED (2) exit 0 (the TERM trap)" % (st, code))


def remove_all():
    if "ctr" in state:
        call("RemoveContainer", f_bytes(1, state["ctr"]))
    call("StopPodSandbox", f_bytes(1, state["pod"]))
    call("RemovePodSandbox", f_bytes(1, state["pod"]))


step("CRI RunPodSandbox with runtime_handler %s" % handler, run_pod)
if "pod" in state:
    step("CRI CreateContainer in the pod", create_container)
    if "ctr" in state:
        step("CRI StartContainer: RUNNING", start_container)
        if len(sys.argv) > 5:
            step("CRI: pod and container run by the handler's BinaryName", handler_used)
        step("CRI ExecSync: output, env and exit code", exec_sync)
        step("CRI StopContainer: SIGTERM handled, exit 0", stop_container)
    step("CRI RemoveContainer, StopPodSandbox, RemovePodSandbox", remove_all)
sys.exit(1 if failed else 0)
