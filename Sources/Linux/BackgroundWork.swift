import Glibc

/// Work on a thread of its own while the caller does something else, joined with `wait()`: the engine sets a
/// container's network up (CNI plugins, mostly waiting for iptables) while the runtime creates the container.
/// A plain pthread, not a Task: the work blocks in waitpid and must not hold a cooperative thread.
public final class BackgroundWork<Value: Sendable>: @unchecked Sendable {
    private let body: @Sendable () -> Value
    private var value: Value?
    private var thread: pthread_t?

    public init(_ body: @escaping @Sendable () -> Value) {
        self.body = body
        let box = ThreadEntry { [self] in value = body() }
        var handle = pthread_t()
        let started = pthread_create(&handle, nil, { raw in
            Unmanaged<ThreadEntry>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, Unmanaged.passRetained(box).toOpaque())
        if started == 0 {
            thread = handle
        } else {
            Unmanaged.passUnretained(box).release()   // no thread took it: run here instead
            value = body()
        }
    }

    /// Waits for the work to end; its result (pthread_join orders the thread's write before this read).
    public func wait() -> Value {
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
        return value!
    }
}

/// The non-generic closure a pthread entry point can receive (a C function pointer cannot capture a generic context).
private final class ThreadEntry {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
