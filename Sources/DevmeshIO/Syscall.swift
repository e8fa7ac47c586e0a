import CDevmeshLinux
import Glibc

/// The outcome of a non-blocking I/O call that did not fail: either it moved bytes (or
/// produced a value), or the kernel had nothing for us right now.
public enum IOResult<Value> {
    case done(Value)
    case wouldBlock
}

/// Every system call devmesh makes goes through here. The rules, as in SwiftNIO's System.swift:
/// - EINTR is retried (except for `close`, where Linux has already released the descriptor);
/// - EAGAIN/EWOULDBLOCK becomes `.wouldBlock`, never an error;
/// - EBADF and EFAULT are programmer errors (a descriptor or pointer we own is wrong): trap;
/// - anything else is thrown as a typed `Errno`, which does not allocate.
/// The wrappers are `@inline(never)` so that errno is read right after the call, before any
/// retain/release the optimiser could move in between.
public enum Syscall {
    @usableFromInline
    @inline(never)
    static func failure(_ function: StaticString) -> Errno {
        let error = Errno.current
        if error.code == EBADF || error.code == EFAULT {
            fatalError("devmesh: \(function) failed with \(error): a descriptor or buffer we own is invalid")
        }
        return error
    }

    // MARK: Byte I/O

    @inline(never)
    public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) throws(Errno) -> IOResult<Int> {
        while true {
            let result = Glibc.read(fd, buffer, count)
            if result >= 0 { return .done(result) }
            let error = failure("read")
            if error.code == EINTR { continue }
            if error.code == EAGAIN || error.code == EWOULDBLOCK { return .wouldBlock }
            throw error
        }
    }

    /// `send` with MSG_NOSIGNAL, so a peer that went away is an EPIPE error, not a signal.
    @inline(never)
    public static func send(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) throws(Errno) -> IOResult<Int> {
        while true {
            let result = Glibc.send(fd, buffer, count, CDevmeshLinux_MSG_NOSIGNAL)
            if result >= 0 { return .done(result) }
            let error = failure("send")
            if error.code == EINTR { continue }
            if error.code == EAGAIN || error.code == EWOULDBLOCK { return .wouldBlock }
            throw error
        }
    }

    /// `writev`. SIGPIPE is ignored process-wide (see `Signals.ignorePipe`), so a closed peer is EPIPE.
    @inline(never)
    public static func writev(_ fd: Int32, _ vectors: UnsafePointer<iovec>, _ count: Int32) throws(Errno) -> IOResult<Int> {
        while true {
            let result = Glibc.writev(fd, vectors, count)
            if result >= 0 { return .done(result) }
            let error = failure("writev")
            if error.code == EINTR { continue }
            if error.code == EAGAIN || error.code == EWOULDBLOCK { return .wouldBlock }
            throw error
        }
    }

    // MARK: Sockets

    @inline(never)
    public static func socket(domain: Int32, type: Int32) throws(Errno) -> Int32 {
        let fd = Glibc.socket(domain, type | CDevmeshLinux_SOCK_NONBLOCK | CDevmeshLinux_SOCK_CLOEXEC, 0)
        if fd < 0 { throw failure("socket") }
        return fd
    }

    /// Accepts one connection as a non-blocking, close-on-exec socket.
    @inline(never)
    public static func accept(_ fd: Int32) throws(Errno) -> IOResult<Int32> {
        while true {
            let result = CDevmeshLinux_accept4(fd, CDevmeshLinux_SOCK_NONBLOCK | CDevmeshLinux_SOCK_CLOEXEC)
            if result >= 0 { return .done(result) }
            let error = failure("accept4")
            if error.code == EINTR || error.code == ECONNABORTED { continue }
            if error.code == EAGAIN || error.code == EWOULDBLOCK { return .wouldBlock }
            throw error
        }
    }

    /// Starts a non-blocking connect. `.wouldBlock` means "in progress": completion is reported
    /// by a writable event, and `socketError` then tells whether it worked.
    @inline(never)
    public static func connect(_ fd: Int32, _ address: SocketAddress) throws(Errno) -> IOResult<Void> {
        var address = address
        while true {
            let result = address.withSockAddr { pointer, length in Glibc.connect(fd, pointer, length) }
            if result == 0 { return .done(()) }
            let error = failure("connect")
            if error.code == EINTR { continue }
            if error.code == EINPROGRESS || error.code == EAGAIN { return .wouldBlock }
            throw error
        }
    }

    public static func bind(_ fd: Int32, _ address: SocketAddress) throws(Errno) {
        var address = address
        let result = address.withSockAddr { pointer, length in Glibc.bind(fd, pointer, length) }
        if result != 0 { throw failure("bind") }
    }

    public static func listen(_ fd: Int32, backlog: Int32) throws(Errno) {
        if Glibc.listen(fd, backlog) != 0 { throw failure("listen") }
    }

    /// Whether a socket has bytes to read or has reached its end (a peek that consumes nothing).
    /// False when a read would block: the readiness that prompted the question was stale.
    public static func hasPendingInputOrEnd(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        while true {
            let result = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if result >= 0 { return true }
            let error = Errno.current
            if error.code == EINTR { continue }
            return !(error.code == EAGAIN || error.code == EWOULDBLOCK)
        }
    }

    public static func shutdownWrite(_ fd: Int32) {
        // ENOTCONN only means the peer is already gone; nothing to do either way.
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes a descriptor. EINTR is not retried: on Linux the descriptor is released anyway
    /// and a retry could close a descriptor another thread just received.
    public static func close(_ fd: Int32) {
        if Glibc.close(fd) != 0 {
            let error = Errno.current
            precondition(error.code != EBADF, "devmesh: close(\(fd)) of a descriptor we do not own")
        }
    }

    public static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) throws(Errno) {
        var value = value
        if setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw failure("setsockopt")
        }
    }

    /// The pending error of a socket (SO_ERROR), used to learn how a non-blocking connect ended.
    public static func socketError(_ fd: Int32) -> Errno? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) != 0 { return failure("getsockopt") }
        return value == 0 ? nil : Errno(value)
    }

    public static func localAddress(_ fd: Int32) throws(Errno) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        if result != 0 { throw failure("getsockname") }
        return SocketAddress(storage: storage, length: length)
    }

    // MARK: epoll and eventfd

    public static func epollCreate() throws(Errno) -> Int32 {
        let fd = epoll_create1(CDevmeshLinux_EPOLL_CLOEXEC)
        if fd < 0 { throw failure("epoll_create1") }
        return fd
    }

    public static func epollAdd(_ epoll: Int32, _ fd: Int32, events: UInt32, data: UInt64) throws(Errno) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = data
        if epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0 { throw failure("epoll_ctl") }
    }

    public static func epollDelete(_ epoll: Int32, _ fd: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, fd, &event)
    }

    @inline(never)
    public static func epollWait(_ epoll: Int32, _ events: UnsafeMutablePointer<epoll_event>, _ capacity: Int32,
                                 timeoutMilliseconds: Int32) -> Int {
        let result = epoll_wait(epoll, events, capacity, timeoutMilliseconds)
        if result >= 0 { return Int(result) }
        let error = failure("epoll_wait")
        precondition(error.code == EINTR, "devmesh: epoll_wait failed: \(error)")
        return 0
    }

    public static func eventFD() throws(Errno) -> Int32 {
        let fd = eventfd(0, CDevmeshLinux_EFD_NONBLOCK | CDevmeshLinux_EFD_CLOEXEC)
        if fd < 0 { throw failure("eventfd") }
        return fd
    }

    /// Adds one to an eventfd counter: wakes the loop that polls it. Safe from any thread.
    public static func signalEventFD(_ fd: Int32) {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    /// Resets an eventfd counter after a wake-up.
    public static func drainEventFD(_ fd: Int32) {
        var value: UInt64 = 0
        _ = Glibc.read(fd, &value, 8)
    }
}
