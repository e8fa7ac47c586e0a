import CDevmeshLinux
import Glibc

/// Unix-domain `SOCK_SEQPACKET` sockets that carry open descriptors between processes
/// (`SCM_RIGHTS`, unix(7)): the transport of a binary upgrade, where the running proxy hands
/// its listening sockets to its successor (docs/configuration.md, `handover_socket`).
///
/// Why `SOCK_SEQPACKET`: it keeps message boundaries (one `sendmsg` is one `recvmsg`, so a
/// message and the descriptors attached to it always arrive together), yet is
/// connection-oriented like a stream, so a peer that dies is seen as the end of the
/// connection. Slow path: used a handful of times per upgrade, it may allocate.
public enum FDPassing {
    /// Most descriptors one message may carry (the kernel's `SCM_MAX_FD`); a sender splits
    /// larger sets over several messages.
    public static let maxDescriptorsPerMessage = 253
    /// `sizeof(sockaddr_un.sun_path)` less the terminating NUL.
    public static let maxPathBytes = 107

    /// A message read by `receive`.
    public struct ReceivedMessage {
        /// Bytes of the message copied into the caller's buffer.
        public var byteCount: Int
        /// The descriptors that came with it, already installed in this process and
        /// close-on-exec. The caller owns them: it must adopt or close every one, even when
        /// the message is rejected.
        public var descriptors: [Int32]
        /// The message or its descriptors did not fit (`MSG_TRUNC` / `MSG_CTRUNC`): the part
        /// that did is in hand, the rest is lost, so the message cannot be trusted.
        public var truncated: Bool
    }

    /// Who is at the other end of a connected unix socket, as the kernel recorded it.
    public struct PeerCredentials: Sendable, Equatable {
        public var pid: Int32
        public var uid: UInt32
    }

    /// The identity of a socket file (device, inode), so that a process removes the file only
    /// while it is still the one it bound (a successor may have bound a new one at that path).
    public struct FileIdentity: Sendable, Equatable {
        public var device: UInt64
        public var inode: UInt64
    }

    // MARK: Sockets

    /// A non-blocking listening socket bound at `path`, readable and connectable by the owner
    /// only (mode 0600: whoever can connect can take the listeners). Fails with EADDRINUSE when
    /// a file is already there; the caller decides whether it may be replaced.
    public static func listen(path: String, backlog: Int32 = 4) throws(Errno) -> Int32 {
        var address = try socketAddress(path)
        let fd = try Syscall.socket(domain: AF_UNIX, type: CDevmeshLinux_SOCK_SEQPACKET)
        do throws(Errno) {
            let bound = withSockAddr(&address) { Glibc.bind(fd, $0, $1) }
            if bound != 0 { throw Syscall.failure("bind") }
            // Before listen(): until then a connect is refused, so the file is never open to
            // other users even for an instant.
            if chmod(path, 0o600) != 0 {
                let error = Errno.current
                _ = unlink(path)
                throw error
            }
            if Glibc.listen(fd, backlog) != 0 {
                let error = Syscall.failure("listen")
                _ = unlink(path)
                throw error
            }
        } catch {
            Syscall.close(fd)
            throw error
        }
        return fd
    }

    /// Connects to the socket at `path`. A unix connect finishes at once: it succeeds, or fails
    /// with ENOENT (no file), ECONNREFUSED (a file nobody listens on: its process died) or
    /// EAGAIN (the listener's backlog is full). The socket is non-blocking.
    public static func connect(path: String) throws(Errno) -> Int32 {
        var address = try socketAddress(path)
        let fd = try Syscall.socket(domain: AF_UNIX, type: CDevmeshLinux_SOCK_SEQPACKET)
        while true {
            let result = withSockAddr(&address) { Glibc.connect(fd, $0, $1) }
            if result == 0 { return fd }
            let error = Syscall.failure("connect")
            if error.code == EINTR { continue }
            Syscall.close(fd)
            throw error
        }
    }

    public static func peerCredentials(_ fd: Int32) throws(Errno) -> PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        if CDevmeshLinux_peerCredentials(fd, &pid, &uid) != 0 { throw Syscall.failure("getsockopt") }
        return PeerCredentials(pid: pid, uid: uid)
    }

    /// The identity of the file at `path`, or nil when there is none.
    public static func fileIdentity(_ path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Removes the socket file at `path` if it is still `identity` (nothing otherwise).
    public static func removeSocketFile(_ path: String, ifStill identity: FileIdentity) {
        guard fileIdentity(path) == identity else { return }
        _ = unlink(path)
    }

    /// Removes whatever socket file is at `path` (a stale one whose process is gone).
    public static func removeSocketFile(_ path: String) {
        _ = unlink(path)
    }

    // MARK: Messages

    /// Sends one message with `descriptors` attached (at most `maxDescriptorsPerMessage`). The
    /// kernel duplicates them into the receiver; the sender keeps its own copies open.
    /// `.wouldBlock` means the peer's queue is full and nothing was sent.
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer,
                            descriptors: [Int32]) throws(Errno) -> IOResult<Int> {
        precondition(descriptors.count <= maxDescriptorsPerMessage, "devmesh: too many descriptors for one message")
        precondition(bytes.count > 0, "devmesh: a message with descriptors needs at least one byte")
        let payloadBytes = descriptors.count * MemoryLayout<Int32>.size
        let controlSpace = descriptors.isEmpty ? 0 : CDevmeshLinux_CMSG_SPACE(payloadBytes)
        let control = UnsafeMutableRawPointer.allocate(byteCount: max(controlSpace, 1),
                                                       alignment: MemoryLayout<cmsghdr>.alignment)
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0, count: max(controlSpace, 1))
        var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
        return try withUnsafeMutablePointer(to: &vector) { (vectorPointer) throws(Errno) -> IOResult<Int> in
            var message = msghdr()
            message.msg_iov = vectorPointer
            message.msg_iovlen = 1
            if !descriptors.isEmpty {
                message.msg_control = control
                message.msg_controllen = controlSpace
                // SAFETY: msg_control holds CMSG_SPACE(payloadBytes) bytes, so CMSG_FIRSTHDR is
                // non-nil and its data area has room for exactly `descriptors.count` Int32s.
                let header = CDevmeshLinux_CMSG_FIRSTHDR(&message)!
                header.pointee.cmsg_level = SOL_SOCKET
                header.pointee.cmsg_type = CDevmeshLinux_SCM_RIGHTS
                header.pointee.cmsg_len = CDevmeshLinux_CMSG_LEN(payloadBytes)
                let data = UnsafeMutableRawPointer(CDevmeshLinux_CMSG_DATA(header)!)
                descriptors.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: payloadBytes) }
            }
            while true {
                let result = sendmsg(fd, &message, CDevmeshLinux_MSG_NOSIGNAL)
                if result >= 0 { return .done(result) }
                let error = Syscall.failure("sendmsg")
                if error.code == EINTR { continue }
                if error.code == EAGAIN || error.code == EWOULDBLOCK { return .wouldBlock }
                throw error
            }
        }
    }

    /// Receives one message into `buffer`, with any descriptors attached to it (installed
    /// close-on-exec). A message of 0 bytes with no descriptors is the end of the connection.
    public static func receive(_ fd: Int32,
                               into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> IOResult<ReceivedMessage> {
        let controlSpace = CDevmeshLinux_CMSG_SPACE(maxDescriptorsPerMessage * MemoryLayout<Int32>.size)
        let control = UnsafeMutableRawPointer.allocate(byteCount: controlSpace, alignment: MemoryLayout<cmsghdr>.alignment)
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0, count: controlSpace)
        var vector = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
        return try withUnsafeMutablePointer(to: &vector) { (vectorPointer) throws(Errno) -> IOResult<ReceivedMessage> in
            var message = msghdr()
            message.msg_iov = vectorPointer
            message.msg_iovlen = 1
            message.msg_control = control
            message.msg_controllen = controlSpace
            var count = 0
            while true {
                let result = recvmsg(fd, &message, CDevmeshLinux_MSG_CMSG_CLOEXEC)
                if result >= 0 { count = result; break }
                let error = Syscall.failure("recvmsg")
                if error.code == EINTR { continue }
                if error.code == EAGAIN || error.code == EWOULDBLOCK { return .wouldBlock }
                throw error
            }
            var received = ReceivedMessage(byteCount: count, descriptors: [],
                                           truncated: message.msg_flags & (CDevmeshLinux_MSG_TRUNC | CDevmeshLinux_MSG_CTRUNC) != 0)
            // Every SCM_RIGHTS header is collected, whatever else comes along, so that no
            // descriptor the kernel installed is left unowned.
            var header = CDevmeshLinux_CMSG_FIRSTHDR(&message)
            while let current = header {
                let headerBytes = CDevmeshLinux_CMSG_LEN(0)
                if current.pointee.cmsg_level == SOL_SOCKET && current.pointee.cmsg_type == CDevmeshLinux_SCM_RIGHTS,
                   current.pointee.cmsg_len >= headerBytes {
                    let descriptorCount = (current.pointee.cmsg_len - headerBytes) / MemoryLayout<Int32>.size
                    // SAFETY: the kernel wrote cmsg_len bytes for this header inside msg_control,
                    // so its data area holds `descriptorCount` whole Int32s; loads are unaligned-safe.
                    let data = UnsafeRawPointer(CDevmeshLinux_CMSG_DATA(current)!)
                    for index in 0..<descriptorCount {
                        received.descriptors.append(data.loadUnaligned(fromByteOffset: index * 4, as: Int32.self))
                    }
                }
                header = CDevmeshLinux_CMSG_NXTHDR(&message, current)
            }
            return .done(received)
        }
    }

    /// Waits until `fd` is readable (or has hung up) for at most `timeoutMilliseconds`. For the
    /// one blocking exchange a starting process makes before its event loops run.
    public static func waitReadable(_ fd: Int32, timeoutMilliseconds: Int64) -> Bool {
        let deadline = EventLoop.monotonicMilliseconds() + timeoutMilliseconds
        while true {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = max(0, deadline - EventLoop.monotonicMilliseconds())
            let result = poll(&entry, 1, Int32(clamping: left))
            if result > 0 { return true }
            if result == 0 { return false }
            if Errno.current.code != EINTR { return false }
        }
    }

    /// Whether `fd` is a listening TCP socket (what a listener handover may carry): a peer's
    /// description of a descriptor is checked against the descriptor itself, never trusted.
    public static func isListeningTCPSocket(_ fd: Int32) -> Bool {
        func option(_ name: Int32) -> Int32? {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
        }
        guard option(SO_ACCEPTCONN) == 1, option(SO_TYPE) == CDevmeshLinux_SOCK_STREAM,
              let domain = option(SO_DOMAIN) else { return false }
        return domain == AF_INET || domain == AF_INET6
    }

    // MARK: Addresses

    private static func withSockAddr<R>(_ address: inout sockaddr_un,
                                        _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        // SAFETY: sockaddr_un begins with the generic sockaddr header, and the length handed to
        // the kernel is the whole sockaddr_un, so the kernel reads only the structure's bytes.
        withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    private static func socketAddress(_ path: String) throws(Errno) -> sockaddr_un {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= maxPathBytes, !bytes.contains(0) else { throw Errno(ENAMETOOLONG) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            // SAFETY: sun_path is maxPathBytes + 1 bytes and was zeroed; the path is at most
            // maxPathBytes, so the terminating NUL stays.
            raw.copyBytes(from: bytes)
        }
        return address
    }
}
