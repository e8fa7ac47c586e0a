import DevmeshIO
import Glibc

/// The successor's side of a listener handover: a starting devmesh asks the running one for
/// its listening sockets before binding any (see `HandoverMessage` for the exchange).
///
/// It runs once, on the main thread, before any worker or event loop runs, so it blocks, each
/// wait bounded by `answerTimeoutMilliseconds`. Every way it can fail leaves the caller with
/// no descriptor to clean up: received descriptors are closed before a failure is returned.
final class HandoverClient {
    /// A listening socket received from the predecessor, checked against its description.
    struct Inherited {
        let id: UInt16
        let listener: HandedListener
        let fd: Int32
    }

    /// What asking for the listeners came to.
    enum Outcome {
        /// No socket file at the path: nothing runs, bind as usual.
        case noPredecessor
        /// A socket file nobody listens on: its process died. Bind as usual; the file is replaced.
        case stale
        /// The running devmesh could not hand over; bind as usual (and say why).
        case failed(HandoverError)
        case received(HandoverClient)
    }

    /// How long each answer of the predecessor may take.
    static let answerTimeoutMilliseconds: Int64 = 5_000

    let path: String
    let predecessorPID: Int32
    private(set) var inherited: [Inherited]
    private var fd: Int32

    private init(path: String, fd: Int32, predecessorPID: Int32, inherited: [Inherited]) {
        self.path = path
        self.fd = fd
        self.predecessorPID = predecessorPID
        self.inherited = inherited
    }

    deinit { if fd >= 0 { Syscall.close(fd) } }

    /// Connects to `path` and receives every listening socket of the running devmesh.
    static func requestListeners(path: String) -> Outcome {
        let fd: Int32
        do {
            fd = try FDPassing.connect(path: path)
        } catch {
            if error.code == ENOENT { return .noPredecessor }
            if error.code == ECONNREFUSED { return .stale }
            return .failed(.system("connect to \(path)", error))
        }
        var received: [Inherited] = []
        do throws(HandoverError) {
            let peer = try checkedPeer(fd)
            Log.info("handover: asking devmesh pid \(peer.pid) for its listeners over \(path)")
            try HandoverWire.send(.hello(pid: UInt32(getpid())), on: fd)
            while true {
                let (message, descriptors) = try HandoverWire.receive(
                    on: fd, timeoutMilliseconds: answerTimeoutMilliseconds, waitingFor: "the listeners")
                guard case .listeners(let batch) = message else {
                    closeAll(descriptors)
                    if case .refused(let reason) = message { throw HandoverError.refused(reason) }
                    throw HandoverError.malformed("expected the listeners, got \(message.name)")
                }
                try accept(batch, descriptors: descriptors, into: &received)
                if batch.isLast { break }
            }
            return .received(HandoverClient(path: path, fd: fd, predecessorPID: peer.pid, inherited: received))
        } catch {
            closeAll(received.map(\.fd))
            Syscall.close(fd)
            return .failed(error)
        }
    }

    /// Tells the predecessor which sockets are served here now (it stops accepting on them and
    /// drains), then waits for its acknowledgement. Returns a line for the log.
    func confirmServing(adopted: [UInt16]) -> String {
        defer {
            Syscall.close(fd)
            fd = -1
        }
        do throws(HandoverError) {
            try HandoverWire.send(.serving(adopted: adopted), on: fd)
            let (message, descriptors) = try HandoverWire.receive(
                on: fd, timeoutMilliseconds: HandoverClient.answerTimeoutMilliseconds, waitingFor: "its acknowledgement")
            HandoverClient.closeAll(descriptors)
            guard message == .done else { return "handover: unexpected \(message.name) from pid \(predecessorPID)" }
            return "handover: pid \(predecessorPID) stopped accepting and is draining"
        } catch {
            return "handover: pid \(predecessorPID) did not acknowledge (\(error)); it may still accept connections"
        }
    }

    /// Drops the connection without confirming (this process failed to start): the predecessor
    /// sees the end of the connection and keeps serving.
    func abandon() {
        if fd >= 0 { Syscall.close(fd) }
        fd = -1
    }

    // MARK: Checks

    /// Only a devmesh of the same user may hand sockets over (the file's 0600 mode says the
    /// same; this also covers a file placed by someone else).
    private static func checkedPeer(_ fd: Int32) throws(HandoverError) -> FDPassing.PeerCredentials {
        let peer: FDPassing.PeerCredentials
        do {
            peer = try FDPassing.peerCredentials(fd)
        } catch {
            throw .system("SO_PEERCRED", error)
        }
        guard peer.uid == geteuid() else {
            throw .refused("the socket belongs to user \(peer.uid), this process runs as \(geteuid())")
        }
        return peer
    }

    /// Takes one batch: the ids continue the previous batch, one descriptor per entry, and each
    /// descriptor is what its entry says (a listening TCP socket bound to that address).
    private static func accept(_ batch: HandoverBatch, descriptors: [Int32],
                               into received: inout [Inherited]) throws(HandoverError) {
        guard Int(batch.firstID) == received.count else {
            closeAll(descriptors)
            throw .malformed("batch starts at entry \(batch.firstID), expected \(received.count)")
        }
        guard descriptors.count == batch.entries.count else {
            closeAll(descriptors)
            throw .malformed("\(batch.entries.count) entries came with \(descriptors.count) descriptor(s)")
        }
        for (offset, entry) in batch.entries.enumerated() {
            let fd = descriptors[offset]
            let bound = try? Syscall.localAddress(fd)
            guard FDPassing.isListeningTCPSocket(fd), bound == entry.address else {
                closeAll(Array(descriptors[offset...]))
                throw .malformed("entry \(Int(batch.firstID) + offset) (\(entry.address)) is not that listening socket")
            }
            received.append(Inherited(id: batch.firstID + UInt16(offset), listener: entry, fd: fd))
        }
    }

    private static func closeAll(_ descriptors: [Int32]) {
        for fd in descriptors { Syscall.close(fd) }
    }
}

/// Sending and receiving whole handover messages on a connected socket.
enum HandoverWire {
    /// Sends one message (with `descriptors` attached). The socket buffer of a fresh unix
    /// connection holds far more than one message, so a full buffer means a stuck peer.
    static func send(_ message: HandoverMessage, on fd: Int32, descriptors: [Int32] = []) throws(HandoverError) {
        let bytes = message.encoded()
        let result: IOResult<Int>
        do {
            result = try bytes.withUnsafeBytes { (raw) throws(Errno) -> IOResult<Int> in
                try FDPassing.send(fd, raw, descriptors: descriptors)
            }
        } catch {
            throw .peerGone("the other devmesh went away (\(error))")
        }
        guard case .done = result else { throw .peerGone("the other devmesh is not reading") }
    }

    /// Waits (blocking, bounded) for one message. The descriptors that came with it are the
    /// caller's to adopt or close, whatever the message.
    static func receive(on fd: Int32, timeoutMilliseconds: Int64,
                        waitingFor what: String) throws(HandoverError) -> (HandoverMessage, [Int32]) {
        let deadline = EventLoop.monotonicMilliseconds() + timeoutMilliseconds
        while true {
            let left = deadline - EventLoop.monotonicMilliseconds()
            guard left > 0, FDPassing.waitReadable(fd, timeoutMilliseconds: left) else {
                throw .peerGone("no answer within \(timeoutMilliseconds) ms while waiting for \(what)")
            }
            if let packet = try receiveNow(on: fd) { return packet }
        }
    }

    /// One message if one is queued, nil if none is (non-blocking).
    static func receiveNow(on fd: Int32) throws(HandoverError) -> (HandoverMessage, [Int32])? {
        var buffer = [UInt8](repeating: 0, count: HandoverMessage.maxPacketBytes)
        let result: IOResult<FDPassing.ReceivedMessage>
        do {
            result = try buffer.withUnsafeMutableBytes { (raw) throws(Errno) -> IOResult<FDPassing.ReceivedMessage> in
                try FDPassing.receive(fd, into: raw)
            }
        } catch {
            throw .peerGone("the other devmesh went away (\(error))")
        }
        guard case .done(let packet) = result else { return nil }
        if packet.byteCount == 0 && packet.descriptors.isEmpty {
            throw .peerGone("the other devmesh closed the connection")
        }
        if packet.truncated {
            for fd in packet.descriptors { Syscall.close(fd) }
            throw .malformed("a message larger than \(HandoverMessage.maxPacketBytes) bytes or descriptors")
        }
        do {
            return (try HandoverMessage.decode(buffer[0..<packet.byteCount]), packet.descriptors)
        } catch {
            for fd in packet.descriptors { Syscall.close(fd) }
            throw error
        }
    }
}

extension HandoverMessage {
    /// The message type, for logs.
    var name: String {
        switch self {
        case .hello: return "hello"
        case .listeners: return "listeners"
        case .serving: return "serving"
        case .done: return "done"
        case .refused: return "refused"
        }
    }
}
