#!/usr/bin/python3
# A stand-in for runc's contrib/cmd/recvtty (Go, and its vendored modules are not in Debian's
# source package): receives a pty master over a console socket as runc's tests expect.
#   recvtty.py [--mode single|null] [--pid-file FILE] [--no-stdin] SOCKET
# single: one connection; copies the master to stdout (and stdin to the master unless --no-stdin).
# null: every connection; the master's output is read and thrown away, so writers never block.
import argparse, os, socket, sys, termios, threading

def receive_master(conn):
    _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    if not fds:
        raise RuntimeError("no file descriptor received")
    return fds[0]

def drain(fd, out):
    try:
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            if out is not None:
                os.write(out, data)
    except OSError:
        pass  # EIO once the last slave is closed: the container is gone

def single(path, no_stdin):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    conn, _ = listener.accept()
    listener.close()
    master = receive_master(conn)
    attrs = termios.tcgetattr(master)
    attrs[1] &= ~termios.ONLCR
    termios.tcsetattr(master, termios.TCSANOW, attrs)
    threads = [threading.Thread(target=drain, args=(master, sys.stdout.fileno()))]
    if not no_stdin:
        threads.append(threading.Thread(target=drain, args=(sys.stdin.fileno(), master), daemon=True))
    for t in threads:
        t.start()
    threads[0].join()
    os.close(master)

def null(path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    while True:
        conn, _ = listener.accept()
        def serve(conn=conn):
            try:
                master = receive_master(conn)
            except Exception:
                return
            finally:
                conn.close()
            drain(master, None)
            os.close(master)
        threading.Thread(target=serve, daemon=True).start()

def main():
    parser = argparse.ArgumentParser(prog="recvtty")
    parser.add_argument("--mode", "-m", default="single")
    parser.add_argument("--pid-file", default="")
    parser.add_argument("--no-stdin", action="store_true")
    parser.add_argument("socket")
    args = parser.parse_args()
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    if args.mode == "single":
        single(args.socket, args.no_stdin)
    elif args.mode == "null":
        null(args.socket)
    else:
        sys.exit("recvtty: need to select a valid mode: " + args.mode)

if __name__ == "__main__":
    try:
        main()
    except (OSError, RuntimeError) as error:
        # Go's recvtty bails with one line too (e.g. the runtime failed before sending the master).
        sys.exit("recvtty: %s" % error)
