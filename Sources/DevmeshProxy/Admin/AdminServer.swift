import DevmeshConfig
import DevmeshGRPC
import DevmeshHTTP1
import DevmeshIO

/// The admin listener, served on the control thread (never on a worker): `/healthz`, `/ready`,
/// `/routes` and `/metrics`. Slow path: it may allocate freely.
final class AdminServer: EventHandler {
    static let maxConnections = 64

    let address: SocketAddress
    /// The listening socket (offered to a successor on a binary upgrade).
    let listenerFD: Int32
    private var listening = true
    private let loop: EventLoop
    private unowned let server: ProxyServer
    private var slot: Slot = .invalid
    private var connections: [AdminConnection] = []
    private var grpcConnections: [ObjectIdentifier: GRPCServerConnection] = [:]
    let headers = HeaderStorage(capacity: 100)
    private let grpcBuffers = BufferPool(chunkSize: 16 * 1024, largeSize: 16 * 1024, chunksPerSlab: 4)
    private lazy var health = HealthService(server: server)

    /// Binds `listen`, or adopts `inherited`: the admin socket a predecessor handed over.
    init(loop: EventLoop, address listen: ListenAddress, server: ProxyServer, inherited: Int32? = nil) throws(ServerError) {
        self.loop = loop
        self.server = server
        do {
            if let inherited {
                listenerFD = inherited
            } else {
                let requested = try SocketAddress.resolve(host: listen.host, port: listen.port)
                listenerFD = try Sockets.listen(on: requested, reusePort: false, backlog: 64)
            }
            address = try Syscall.localAddress(listenerFD)
        } catch {
            throw ServerError(message: "admin listener \(listen): \(error)")
        }
        do {
            slot = try loop.register(listenerFD, handler: self)
        } catch {
            throw ServerError(message: "admin listener \(listen): \(error)")
        }
    }

    /// A successor serves the admin socket now (binary upgrade): stop accepting and close this
    /// process's copy (removed from epoll first: the socket stays open in the successor).
    /// Connections already accepted are still answered.
    func stopListening() {
        guard listening else { return }
        listening = false
        loop.stopWatching(listenerFD)
        loop.deregister(slot)
        Syscall.close(listenerFD)
    }

    func handleEvents(_ events: UInt32) {
        while listening {
            let result: IOResult<Int32>
            do {
                result = try Syscall.accept(listenerFD)
            } catch {
                // Out of descriptors: the pending connections stay queued; try again shortly
                // (an edge-triggered listener would not report them again by itself).
                if error == Errno.tooManyOpenFiles || error == Errno.systemTooManyOpenFiles {
                    loop.setTimer(slot, deadline: loop.now + Listener.pauseOnExhaustionMilliseconds)
                }
                return
            }
            guard case .done(let client) = result else { return }
            guard connections.count < AdminServer.maxConnections else {
                Syscall.close(client)
                continue
            }
            let connection = AdminConnection(fd: client, admin: self, loop: loop)
            if connection.start() { connections.append(connection) }
        }
    }

    func handleTimer() {
        handleEvents(0)
    }

    func closed(_ connection: AdminConnection) {
        connections.removeAll { $0 === connection }
    }

    /// The connection opened with the HTTP/2 preface: a gRPC client (health checks). It takes
    /// over the descriptor, its registration and the bytes read so far.
    func switchToGRPC(_ connection: AdminConnection, fd: Int32, slot: Slot, bytes: [UInt8]) {
        connections.removeAll { $0 === connection }
        let grpc = bytes.withUnsafeBytes { initial in
            GRPCServerConnection(fd: fd, loop: loop, buffers: grpcBuffers, service: health, initialBytes: initial,
                                 existingSlot: slot) { [weak self] closed in
                self?.grpcConnections.removeValue(forKey: ObjectIdentifier(closed))
            }
        }
        grpcConnections[ObjectIdentifier(grpc)] = grpc
    }

    /// The response to one admin request.
    func respond(method: HTTPMethod, target: String) -> (status: Int, contentType: String, body: String) {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        guard method == .get || method == .head else {
            return (405, "text/plain; charset=utf-8", "only GET and HEAD are served here\n")
        }
        switch path {
        case "/healthz":
            return (200, "text/plain; charset=utf-8", "ok\n")
        case "/ready":
            let readiness = server.readiness
            return (readiness.ready ? 200 : 503, "text/plain; charset=utf-8", readiness.note + "\n")
        case "/routes":
            return (200, "application/json",
                    AdminDocuments.routes(server.currentSnapshot, controlPlane: server.controlPlane) + "\n")
        case "/metrics":
            return (200, "text/plain; version=0.0.4; charset=utf-8",
                    AdminDocuments.metrics(stats: server.workerStats, snapshot: server.currentSnapshot,
                                           reloads: server.reloads.load(ordering: .relaxed),
                                           reloadFailures: server.reloadFailures.load(ordering: .relaxed),
                                           draining: server.isDraining, controlPlane: server.controlPlane))
        default:
            return (404, "text/plain; charset=utf-8", "not found; try /healthz, /ready, /routes or /metrics\n")
        }
    }
}

/// One admin client connection: request in, response out, keep-alive.
final class AdminConnection: EventHandler {
    private let fd: Int32
    private unowned let admin: AdminServer
    private let loop: EventLoop
    private var slot: Slot = .invalid
    private var input: [UInt8] = []
    private var output: [UInt8] = []
    private var closeAfterWrite = false
    private var scanHint = 0
    private static let idleMilliseconds: Int64 = 30_000

    init(fd: Int32, admin: AdminServer, loop: EventLoop) {
        self.fd = fd
        self.admin = admin
        self.loop = loop
    }

    func start() -> Bool {
        guard let registered = try? loop.register(fd, handler: self) else {
            Syscall.close(fd)
            return false
        }
        slot = registered
        loop.setTimer(slot, deadline: loop.now + AdminConnection.idleMilliseconds)
        return true
    }

    func handleEvents(_ events: UInt32) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while output.isEmpty && slot != .invalid {
            let result = chunk.withUnsafeMutableBytes { raw in try? Syscall.read(fd, raw.baseAddress!, raw.count) }
            guard let result else { close(); return }
            guard case .done(let count) = result else { break }
            if count == 0 { close(); return }
            input.append(contentsOf: chunk[0..<count])
            if input.count > 64 * 1024 { close(); return }
            if !processRequest() { break }
        }
        guard slot != .invalid else { return } // handed over to gRPC
        flush()
    }

    /// Parses one request from `input`; returns whether a response was produced.
    private func processRequest() -> Bool {
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        if input.count >= preface.count && Array(input.prefix(preface.count)) == preface {
            let handedSlot = slot
            slot = .invalid
            admin.switchToGRPC(self, fd: fd, slot: handedSlot, bytes: input)
            input.removeAll()
            return false
        }
        if input.count < preface.count && input.elementsEqual(preface.prefix(input.count)) { return false }
        let outcome: (HTTPMethod, String, Bool, Int)?
        let parsed = input.withUnsafeBytes { raw -> ParseStatus<RequestHead> in
            RequestHeadParser.parse(raw, into: admin.headers, limits: HTTP1Limits(), scanFrom: &scanHint)
        }
        switch parsed {
        case .incomplete:
            return false
        case .invalid(let error):
            output = Array(render(status: Int(error.status), contentType: "text/plain; charset=utf-8",
                                  body: "devmesh: malformed request (\(error.slug))\n", head: false, close: true).utf8)
            closeAfterWrite = true
            return true
        case .complete(let head):
            outcome = (head.method, head.target.debugString, head.keepAlive, head.headLength)
        }
        guard let (method, target, keepAlive, length) = outcome else { return false }
        scanHint = 0
        input.removeFirst(length)
        let answer = admin.respond(method: method, target: target)
        output = Array(render(status: answer.status, contentType: answer.contentType, body: answer.body,
                              head: method == .head, close: !keepAlive).utf8)
        closeAfterWrite = !keepAlive
        return true
    }

    private func render(status: Int, contentType: String, body: String, head: Bool, close: Bool) -> String {
        var text = "HTTP/1.1 \(status) \(LocalResponses.reasonPhrase(status))\r\n"
        text += "content-type: \(contentType)\r\ncontent-length: \(body.utf8.count)\r\n"
        text += "cache-control: no-store\r\n"
        if close { text += "connection: close\r\n" }
        text += "\r\n"
        if !head { text += body }
        return text
    }

    private func flush() {
        while !output.isEmpty {
            let result = output.withUnsafeBytes { raw in try? Syscall.send(fd, raw.baseAddress!, raw.count) }
            guard let result else { close(); return }
            guard case .done(let sent) = result else { return }
            output.removeFirst(sent)
        }
        if closeAfterWrite {
            close()
            return
        }
        loop.setTimer(slot, deadline: loop.now + AdminConnection.idleMilliseconds)
        if !input.isEmpty && processRequest() { flush() }
    }

    func handleTimer() { close() }

    private func close() {
        guard slot != .invalid else { return }
        loop.deregister(slot)
        slot = .invalid
        Syscall.close(fd)
        admin.closed(self)
    }
}
