import CDevmeshLinux
import Glibc

/// Starts and joins plain POSIX threads for workers. Workers run an epoll loop each and must
/// not be multiplexed onto a shared pool (no Dispatch, no async/await on the request path).
public final class PosixThread: @unchecked Sendable {
    // SAFETY (@unchecked): `handle` is written once in `start` before the thread can be joined,
    // and only read by `join` on the starting thread.
    private var handle = pthread_t()

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    private init() {}

    /// Starts `body` on a new thread named `name` (visible in `top -H` and /proc).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> PosixThread {
        let thread = PosixThread()
        let box = Unmanaged.passRetained(Box {
            CDevmeshLinux_setThreadName(name)
            body()
        }).toOpaque()
        let status = pthread_create(&thread.handle, nil, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(status == 0, "devmesh: pthread_create failed (\(status))")
        return thread
    }

    public func join() {
        _ = pthread_join(handle, nil)
    }

    /// Number of CPUs this process may run on (respects taskset/cgroup CPU sets).
    public static var availableCores: Int {
        let count = Int(CDevmeshLinux_availableCPUs())
        if count > 0 { return count }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// Process-wide signal set-up. Signals are blocked in every thread and read synchronously from
/// a signalfd by the control thread, so no handler ever runs inside a worker.
public enum Signals {
    /// Ignores SIGPIPE: a write to a closed socket becomes EPIPE instead of killing the process.
    public static func ignorePipe() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Blocks `signals` in the calling thread and in every thread it starts afterwards. Call it
    /// first thing in `main`: a process-directed signal goes to any thread that does not block
    /// it, and libraries (Foundation, Dispatch) may start threads of their own, which would then
    /// take SIGTERM with its default action (exit) instead of leaving it to the signalfd.
    public static func block(_ signals: [Int32]) throws(Errno) {
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        let status = pthread_sigmask(SIG_BLOCK, &set, nil)
        if status != 0 { throw Errno(status) }
    }

    /// A non-blocking signalfd that reports `signals` (blocks them in the calling thread too).
    public static func makeSignalFD(for signals: [Int32]) throws(Errno) -> Int32 {
        try block(signals)
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        let fd = signalfd(-1, &set, CDevmeshLinux_SFD_NONBLOCK | CDevmeshLinux_SFD_CLOEXEC)
        if fd < 0 { throw Errno.current }
        return fd
    }

    /// Reads one pending signal number from a signalfd, or nil when none is pending.
    public static func readSignal(_ fd: Int32) -> Int32? {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        let count = Glibc.read(fd, &info, size)
        guard count == size else { return nil }
        return Int32(info.ssi_signo)
    }
}

/// Process resource limits.
public enum ResourceLimits {
    /// Raises the soft limit on open descriptors to the hard limit (every connection costs one,
    /// and a proxy talks to both sides) and returns the new soft limit.
    @discardableResult
    public static func raiseOpenFileLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }

    private static var RLIMIT_NOFILE_VALUE: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}
