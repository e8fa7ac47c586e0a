import DevmeshIO

/// The connections one worker holds to one upstream address.
///
/// Idle connections form a LIFO stack: the most recently used (hottest) connection is reused
/// first and the surplus at the bottom ages out on the idle timer. `openCount` counts every open
/// connection (idle, busy and connecting) against the per-endpoint cap, so an overloaded or
/// black-holed upstream costs a fast 503 instead of an unbounded pile of sockets.
final class UpstreamPool {
    let address: SocketAddress
    /// `host:port` as the operator wrote it, for error bodies and logs.
    let name: String
    private(set) var idle: [UpstreamConnection] = []
    /// Multiplexed HTTP/2 connections (connecting, ready, or draining after a GOAWAY).
    var http2Connections: [HTTP2UpstreamConnection] = []
    private(set) var openCount = 0
    /// False once the address left the route table: no new requests, idle connections closed.
    private(set) var retired = false

    init(address: SocketAddress, name: String) {
        self.address = address
        self.name = name
        idle.reserveCapacity(8)
    }

    /// The hottest idle connection, if any.
    func popIdle() -> UpstreamConnection? {
        idle.popLast()
    }

    func connectionOpened() { openCount += 1 }
    func connectionClosed() { openCount -= 1 }

    /// Parks a connection whose exchange ended cleanly. Returns false (the caller closes it) when
    /// the pool is retired or already holds `maxIdle` connections.
    func park(_ connection: UpstreamConnection, maxIdle: Int) -> Bool {
        guard !retired, idle.count < maxIdle else { return false }
        idle.append(connection)
        return true
    }

    /// Forgets an idle connection that closed or timed out while parked.
    func removeIdle(_ connection: UpstreamConnection) {
        if let index = idle.lastIndex(where: { $0 === connection }) {
            idle.remove(at: index)
        }
    }

    /// Marks the pool as gone from the table and returns its idle connections for closing.
    /// HTTP/2 connections stop taking streams and close when their last stream is done.
    func retire() -> [UpstreamConnection] {
        retired = true
        for connection in http2Connections { connection.retire() }
        defer { idle.removeAll() }
        return idle
    }
}
