import DevmeshHTTP1
import DevmeshIO

/// The agent's HTTP/1.1 listener on an `EventLoop`: accepts connections and hands each complete
/// request to `AgentAPI`. A control-plane server: it allocates freely, answers one request at a
/// time per connection (keep-alive and pipelining in order) and bounds everything a client can
/// make it hold (connections, head and body sizes, time per request).
public final class AgentHTTPServer: EventHandler {
    public static let maxConnections = 256
    /// A request (head and body) must arrive within this time of the connection opening or of the
    /// previous response; then the connection is closed.
    public static let requestTimeoutMilliseconds: Int64 = 30_000
    static let limits = HTTP1Limits(maxHeadBytes: 16 * 1024, maxHeaderCount: 64)

    public let address: SocketAddress
    let api: AgentAPI
    let loop: EventLoop
    let maxBodyBytes: Int
    private let fd: Int32
    private var slot: Slot = .invalid
    private var connections: [ObjectIdentifier: AgentHTTPConnection] = [:]
    /// Shared by every connection: parsing is synchronous and on this thread only.
    let headers = HeaderStorage(capacity: 64)

    public init(loop: EventLoop, address: SocketAddress, api: AgentAPI) throws(Errno) {
        self.loop = loop
        self.api = api
        maxBodyBytes = api.service.limits.maxRequestBodyBytes
        fd = try Sockets.listen(on: address, reusePort: false, backlog: 128)
        do {
            self.address = try Syscall.localAddress(fd)
            slot = try loop.register(fd, handler: self)
        } catch {
            Syscall.close(fd)
            throw error
        }
    }

    public var connectionCount: Int { connections.count }

    public func handleEvents(_ events: UInt32) {
        while true {
            guard case .done(let client)? = try? Syscall.accept(fd) else { return }
            guard connections.count < AgentHTTPServer.maxConnections else {
                Syscall.close(client)
                continue
            }
            let connection = AgentHTTPConnection(fd: client, server: self)
            if connection.start() { connections[ObjectIdentifier(connection)] = connection }
        }
    }

    public func handleTimer() {}

    func closed(_ connection: AgentHTTPConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    /// Stops accepting and closes every connection.
    public func shutdown() {
        if slot != .invalid {
            loop.deregister(slot)
            slot = .invalid
            Syscall.close(fd)
        }
        for connection in Array(connections.values) { connection.close() }
    }
}
