enum RuntimeVersion {
    static let version = "0.1.0"
    static let spec = "1.2.0"
}

struct CommandError: Error, CustomStringConvertible {
    let what: String
    let why: String
    init(_ what: String, _ why: String) { self.what = what; self.why = why }
    var description: String { why.isEmpty ? what : "\(what): \(why)" }
}

/// A failure that ends berth-runtime with a status other than 1 (runc's exec failures exit 255).
struct ExitError: Error, CustomStringConvertible {
    let code: Int32
    let message: String
    var description: String { message }
}

enum Usage {
    static let text = """
    berth-runtime: an OCI container runtime (runc-compatible command line)

    USAGE: berth-runtime [global options] command [command options] [arguments...]

    COMMANDS:
       create    create a container (its process waits until start)
       start     run the user process of a created container
       run       create and start a container
       state     print the state of a container (JSON)
       list      list containers (-f json, -q)
       kill      send a signal to the container's init (--all: to every process)
       delete    remove a container (--force: even if running)
       exec      run a new process inside a container
       ps        show the processes of a container
       pause     freeze every process of a container
       resume    thaw a paused container
       events    container stats and events (--stats, --interval)
       update    change a container's resource limits
       features  print what this runtime supports (JSON)
       spec      write a default config.json

    GLOBAL OPTIONS:
       --root value        state directory (default: /run/berth)
       --log value         log file (default: stderr)
       --log-format value  text or json (default: text)
       --debug             log every system call
       --systemd-cgroup    use the systemd cgroup driver
       --rootless value    ignored: berth-runtime detects it (true|false|auto)
       --version, -v       print the version

    """
}
