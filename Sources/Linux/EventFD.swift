import CBerth

/// eventfd(2): a counter fd the kernel can signal (cgroup v1 OOM and memory-pressure notifications).
public enum EventFD {
    /// A non-blocking, close-on-exec eventfd.
    public static func make() throws(SystemError) -> Int32 {
        try check("eventfd") { berth_eventfd_nonblocking(0) }
    }
}
