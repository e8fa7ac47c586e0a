import CDevmeshLinux
import Glibc

/// Socket set-up on the slow path (listeners, new upstream connections).
public enum Sockets {
    /// A non-blocking listening TCP socket. With `reusePort`, every worker binds its own
    /// listener to the same address and the kernel spreads new connections across them
    /// (SO_REUSEPORT), so no lock or shared accept queue sits between workers.
    public static func listen(on address: SocketAddress, reusePort: Bool, backlog: Int32 = 1024) throws(Errno) -> Int32 {
        let fd = try Syscall.socket(domain: address.family, type: CDevmeshLinux_SOCK_STREAM)
        do {
            try Syscall.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            if reusePort { try Syscall.setOption(fd, level: SOL_SOCKET, name: SO_REUSEPORT, value: 1) }
            try Syscall.bind(fd, address)
            try Syscall.listen(fd, backlog: backlog)
        } catch {
            Syscall.close(fd)
            throw error
        }
        return fd
    }

    /// Starts a non-blocking connect. Returns the socket and whether the connect already
    /// completed (loopback sometimes completes at once); otherwise completion arrives as a
    /// writable event and `Syscall.socketError` tells the outcome.
    public static func connect(to address: SocketAddress) throws(Errno) -> (fd: Int32, connected: Bool) {
        let fd = try Syscall.socket(domain: address.family, type: CDevmeshLinux_SOCK_STREAM)
        setNoDelay(fd)
        do {
            switch try Syscall.connect(fd, address) {
            case .done: return (fd, true)
            case .wouldBlock: return (fd, false)
            }
        } catch {
            Syscall.close(fd)
            throw error
        }
    }

    /// Disables Nagle: a proxy writes whole messages and must not hold back the last segment.
    public static func setNoDelay(_ fd: Int32) {
        _ = try? Syscall.setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
    }

    /// Closes with an RST instead of a FIN (SO_LINGER 0): used when a connection is abandoned
    /// mid-message so that the peer sees an abort, never a clean end of a truncated body.
    public static func abortiveClose(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        Syscall.close(fd)
    }
}
