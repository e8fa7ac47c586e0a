import DevmeshIO
import Glibc

/// What the running proxy offers a successor, and what it does once the successor serves.
protocol HandoverSource: AnyObject {
    /// Why no handover can happen now (the proxy is draining), or nil.
    var handoverRefusal: String? { get }
    /// Every listening socket, in a stable order: an entry's position is its id.
    func handoverOffer() -> [(listener: HandedListener, fd: Int32)]
    /// The successor accepts on the entries `adopted` (ids into the offer): stop accepting on
    /// them without closing their queues, then drain.
    func successorServing(adopted: Set<Int>, pid: Int32)
}

/// The running proxy's side of a listener handover: listens on `handover_socket` on the
/// control thread and gives its listening sockets to a successor that asks.
///
/// One handover at a time; a second successor that connects meanwhile is refused. Until the
/// successor says `serving`, nothing changes here: a successor that fails, dies or talks
/// nonsense is dropped and this process keeps serving with every listener it had.
final class HandoverServer: EventHandler {
    /// How long a connected successor may take to say hello, and then to start serving (its
    /// workers start, and with an agent its routes sync, before it says so).
    static let helloTimeoutMilliseconds: Int64 = 5_000
    static let servingTimeoutMilliseconds: Int64 = 120_000

    let path: String
    private let loop: EventLoop
    private unowned let source: any HandoverSource
    private var fd: Int32 = -1
    private var identity: FDPassing.FileIdentity?
    private var slot: Slot = .invalid
    private var session: HandoverSession?

    /// Binds `path`, replacing whatever file is there: at this point the file is a stale one,
    /// or the predecessor's (which removes it only while it is still its own).
    init(path: String, loop: EventLoop, source: any HandoverSource) throws(HandoverError) {
        self.path = path
        self.loop = loop
        self.source = source
        FDPassing.removeSocketFile(path)
        do {
            fd = try FDPassing.listen(path: path)
            identity = FDPassing.fileIdentity(path)
            slot = try loop.register(fd, handler: self)
        } catch {
            if fd >= 0 { Syscall.close(fd) }
            throw .system("listen on \(path)", error)
        }
    }

    /// Stops listening and removes the socket file if it is still ours. Ends a handover in
    /// progress (the successor sees the connection close).
    func close() {
        stopListening()
        session?.close()
    }

    /// Closes the listening socket and removes the socket file if it is still ours. Done before
    /// a successor is told `done`: it binds the path as soon as it reads that, and a removal
    /// after its bind would take its file away.
    fileprivate func stopListening() {
        guard fd >= 0 else { return }
        loop.deregister(slot)
        Syscall.close(fd)
        fd = -1
        if let identity { FDPassing.removeSocketFile(path, ifStill: identity) }
    }

    func handleEvents(_ events: UInt32) {
        while fd >= 0 {
            let result: IOResult<Int32>
            do {
                result = try Syscall.accept(fd)
            } catch {
                Log.warning("handover: accept on \(path): \(error)")
                return
            }
            guard case .done(let connection) = result else { return }
            if let refusal = refusal(for: connection) {
                try? HandoverWire.send(.refused(reason: refusal), on: connection)
                Syscall.close(connection)
                Log.warning("handover: refused a successor: \(refusal)")
                continue
            }
            let started = HandoverSession(fd: connection, server: self, loop: loop)
            if started.start() { session = started }
        }
    }

    func handleTimer() {}

    private func refusal(for connection: Int32) -> String? {
        if session != nil { return "another handover is in progress" }
        if let reason = source.handoverRefusal { return reason }
        guard let peer = try? FDPassing.peerCredentials(connection) else { return "cannot identify the peer" }
        if peer.uid != geteuid() { return "the peer runs as user \(peer.uid), this devmesh as \(geteuid())" }
        return nil
    }

    // MARK: For the session

    fileprivate func offer() -> [(listener: HandedListener, fd: Int32)] { source.handoverOffer() }

    fileprivate func successorServing(adopted: Set<Int>, pid: Int32) {
        source.successorServing(adopted: adopted, pid: pid)
    }

    fileprivate func sessionEnded(_ ended: HandoverSession) {
        if session === ended { session = nil }
    }
}

/// One successor's connection, from hello to done.
private final class HandoverSession: EventHandler {
    private enum State {
        case awaitingHello
        /// The listeners went out; `offered` entries, waiting for `serving`.
        case awaitingServing(offered: Int)
        case closed
    }

    private let fd: Int32
    private unowned let server: HandoverServer
    private let loop: EventLoop
    private var slot: Slot = .invalid
    private var state = State.awaitingHello
    private var successorPID: Int32 = 0

    init(fd: Int32, server: HandoverServer, loop: EventLoop) {
        self.fd = fd
        self.server = server
        self.loop = loop
    }

    func start() -> Bool {
        successorPID = (try? FDPassing.peerCredentials(fd))?.pid ?? 0
        do {
            slot = try loop.register(fd, handler: self)
        } catch {
            Syscall.close(fd)
            return false
        }
        loop.setTimer(slot, deadline: loop.now + HandoverServer.helloTimeoutMilliseconds)
        return true
    }

    func handleEvents(_ events: UInt32) {
        while !isClosed {
            let packet: (message: HandoverMessage, descriptors: [Int32])?
            do {
                packet = try HandoverWire.receiveNow(on: fd)
            } catch {
                end("\(error)")
                return
            }
            guard let packet else { return }
            if !packet.descriptors.isEmpty {
                for descriptor in packet.descriptors { Syscall.close(descriptor) }
                end("the successor sent descriptors; it has none to give")
                return
            }
            handle(packet.message)
        }
    }

    func handleTimer() {
        switch state {
        case .awaitingHello: end("no hello within \(HandoverServer.helloTimeoutMilliseconds) ms")
        case .awaitingServing: end("not serving within \(HandoverServer.servingTimeoutMilliseconds) ms")
        case .closed: break
        }
    }

    private func handle(_ message: HandoverMessage) {
        switch (state, message) {
        case (.awaitingHello, .hello):
            sendListeners()
        case (.awaitingServing(let offered), .serving(let adopted)):
            let ids = Set(adopted.map(Int.init))
            guard ids.count == adopted.count, ids.allSatisfy({ $0 < offered }) else {
                end("serving names entries that were not offered")
                return
            }
            Log.info("handover: pid \(successorPID) serves \(ids.count) of \(offered) socket(s); "
                     + "this process stops accepting on them and drains")
            // The path is free before the successor hears `done` (it binds the path then), and
            // `done` goes out before the drain closes this connection.
            server.stopListening()
            try? HandoverWire.send(.done, on: fd)
            close()
            server.successorServing(adopted: ids, pid: successorPID)
        default:
            end("unexpected \(message.name) message")
        }
    }

    /// Every listener, in batches small enough for one message each.
    private func sendListeners() {
        let offer = server.offer()
        let pid = UInt32(getpid())
        var first = 0
        repeat {
            let end = min(offer.count, first + HandoverMessage.maxEntriesPerBatch)
            let slice = offer[first..<end]
            let batch = HandoverBatch(pid: pid, firstID: UInt16(first), isLast: end == offer.count,
                                      entries: slice.map(\.listener))
            do throws(HandoverError) {
                try HandoverWire.send(.listeners(batch), on: fd, descriptors: slice.map(\.fd))
            } catch {
                self.end("\(error)")
                return
            }
            first = end
        } while first < offer.count
        Log.info("handover: sent \(offer.count) listening socket(s) to pid \(successorPID)")
        state = .awaitingServing(offered: offer.count)
        loop.setTimer(slot, deadline: loop.now + HandoverServer.servingTimeoutMilliseconds)
    }

    /// The handover did not happen: nothing changes in this process.
    private func end(_ reason: String) {
        guard !isClosed else { return }
        Log.warning("handover to pid \(successorPID) abandoned (\(reason)); still serving on every listener")
        close()
    }

    private var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    func close() {
        guard !isClosed else { return }
        state = .closed
        loop.deregister(slot)
        Syscall.close(fd)
        server.sessionEnded(self)
    }
}
