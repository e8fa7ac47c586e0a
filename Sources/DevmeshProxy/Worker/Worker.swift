import DevmeshConfig
import DevmeshHTTP1
import DevmeshHTTP2
import DevmeshIO
import DevmeshRouting
import Synchronization

/// One worker: one thread, one epoll loop, its own listeners, downstream sessions, upstream pools,
/// buffers and counters. Nothing here is shared with other workers; the only cross-thread inputs
/// are the route snapshot and the drain flag (both behind `WorkerControl`/`SnapshotBox`, read
/// when the loop is woken).
final class Worker {
    let control: WorkerControl
    let loop: EventLoop
    let buffers: BufferPool
    private let snapshots: RouteSnapshotBox<ProxySnapshot>
    private(set) var snapshot: ProxySnapshot
    /// Plain copies of the snapshot's settings, read on every request without touching (and
    /// reference-counting) the snapshot object.
    private(set) var timeouts: Timeouts
    private(set) var limits: ProxyLimits
    private(set) var http1Limits: HTTP1Limits
    /// The box version `snapshot` came with.
    private var snapshotBoxVersion: UInt64
    var stats = WorkerStats()
    /// Requests admitted and not yet answered, over every connection (`limits.maxRequestsPerWorker`).
    /// Kept in the loop, whose batching pauses need as many in flight to be worth taking.
    var requestsInFlight: Int {
        get { loop.requestsInFlight }
        set { loop.requestsInFlight = newValue }
    }

    /// Upstream pools of the current snapshot, indexed by endpoint id.
    private(set) var pools: [UpstreamPool] = []
    /// Round-robin cursor per destination id of the current snapshot.
    var roundRobin: [UInt32] = []

    /// Scratch storage reused by every request and response on this worker: a head is parsed,
    /// routed and rewritten in one go, so the parsed fields never outlive one call.
    private(set) var requestHeaders: HeaderStorage
    private(set) var responseHeaders: HeaderStorage
    let candidates: RoutingKeyCandidates
    /// Reopened when a snapshot from another load of the configuration file arrives (see
    /// `ProxySnapshot.fileLoad`); sessions look it up per request.
    private(set) var accessLog: AccessLogWriter?
    private var accessLogFileLoad: UInt64
    /// HTTP/2: the settings of new sessions of this worker (a reload changes them for new
    /// connections), and the pool their stream send buffers come from.
    private(set) var http2Settings: HTTP2Settings
    let http2Buffers: HTTP2BufferPool
    /// Exchange objects of HTTP/2 streams, reused (a stream allocates nothing in steady state).
    private var idleStreamExchanges: [StreamExchange] = []

    private var listeners: [Listener] = []
    /// Open downstream connections (for the connection cap and drain); each knows its index here.
    private var sessions: [any DownstreamConnection] = []
    private(set) var draining = false
    /// During a drain after a binary upgrade: how long an idle HTTP/1.1 connection stays open
    /// for its next request (answered with `connection: close`) before it is closed. 0 (a
    /// SIGTERM drain): idle connections close at once.
    private(set) var drainIdleGraceMilliseconds: Int64 = 0
    /// A successor serves the same addresses, so an idle client that sends one more request
    /// should get its answer rather than race the close of its connection. A client that
    /// sends nothing for this long is closed like on SIGTERM; the drain deadline still bounds all.
    static let handoverIdleGraceMilliseconds: Int64 = 1_000
    private var statsTimer: PeriodicTask?
    private static let publishIntervalMilliseconds: Int64 = 100

    init(control: WorkerControl, loop: EventLoop, snapshots: RouteSnapshotBox<ProxySnapshot>,
         listenerFDs: [Int32]) throws(Errno) {
        self.control = control
        self.loop = loop
        self.snapshots = snapshots
        let (snapshot, boxVersion) = snapshots.load()
        self.snapshot = snapshot
        snapshotBoxVersion = boxVersion
        let configuration = snapshot.configuration
        timeouts = configuration.timeouts
        limits = configuration.limits
        http1Limits = configuration.http1
        loop.batchWindowNanoseconds = configuration.batchWindowMicroseconds * 1_000
        buffers = BufferPool(largeSize: Worker.largeBufferSize(configuration.http1))
        requestHeaders = HeaderStorage(capacity: configuration.http1.maxHeaderCount)
        responseHeaders = HeaderStorage(capacity: configuration.http1.maxHeaderCount)
        candidates = RoutingKeyCandidates()
        accessLog = AccessLogWriter(target: configuration.accessLog)
        accessLogFileLoad = snapshot.fileLoad
        http2Settings = HTTP2Settings(configuration.http2)
        http2Buffers = HTTP2BufferPool(chunkBytes: http2Settings.streamSendBufferBytes, maxIdleChunks: 256,
                                       maxIdleBlocksPerSize: 256)
        idleStreamExchanges.reserveCapacity(64)
        adopt(snapshot)
        for fd in listenerFDs {
            listeners.append(try Listener(worker: self, fd: fd))
        }
        loop.onWakeUp = { [unowned self] in self.handleWakeUp() }
        statsTimer = PeriodicTask(loop: loop, intervalMilliseconds: Worker.publishIntervalMilliseconds) { [unowned self] in
            self.publishStats()
        }
    }

    /// The thread body.
    func run() {
        loop.run()
        accessLog?.flush()
        publishStats()
        control.finished.store(true, ordering: .releasing)
    }

    // MARK: Connections

    func adoptDownstream(_ fd: Int32) {
        stats.downstreamAccepted &+= 1
        if sessions.count >= limits.maxConnectionsPerWorker || draining {
            stats.downstreamRejectedOverLimit &+= 1
            HTTP1Session.rejectOverloaded(fd)
            return
        }
        Sockets.setNoDelay(fd)
        let session = HTTP1Session(worker: self, fd: fd)
        // Listed before it starts: starting reads at once, and a client that already hung up
        // closes the session inside `start()`, which must find it here to unlist it.
        session.registryIndex = sessions.count
        sessions.append(session)
        stats.downstreamOpen = sessions.count
        do {
            try session.start()
        } catch {
            sessionClosed(session)
            Syscall.close(fd)
        }
    }

    func sessionClosed(_ session: any DownstreamConnection) {
        let index = session.registryIndex
        guard index >= 0, index < sessions.count, sessions[index] === session else { return }
        let last = sessions.removeLast()
        if index < sessions.count {
            sessions[index] = last
            last.registryIndex = index
        }
        session.registryIndex = -1
        stats.downstreamOpen = sessions.count
        if draining && sessions.isEmpty { loop.stop() }
    }

    /// The round-robin start for a new request to `destination`.
    @inline(__always)
    func nextRoundRobin(destination: Int) -> UInt32 {
        let cursor = roundRobin[destination]
        roundRobin[destination] = cursor &+ 1
        return cursor
    }

    func takeStreamExchange() -> StreamExchange {
        idleStreamExchanges.popLast() ?? StreamExchange(worker: self)
    }

    func returnStreamExchange(_ exchange: StreamExchange) {
        exchange.reset()
        if idleStreamExchanges.count < 1024 { idleStreamExchanges.append(exchange) }
    }

    /// A connection changed protocol (HTTP/1.1 → h2c after the connection preface): the new object
    /// takes the old one's place in the list.
    func replaceSession(_ old: any DownstreamConnection, with new: any DownstreamConnection) {
        let index = old.registryIndex
        guard index >= 0, index < sessions.count, sessions[index] === old else { return }
        sessions[index] = new
        new.registryIndex = index
        old.registryIndex = -1
    }

    /// A head of `maxHeadBytes` must fit after the headroom, with room to insert a line.
    static func largeBufferSize(_ limits: HTTP1Limits) -> Int {
        limits.maxHeadBytes + 1024
    }

    /// The pool for `endpoint` of the current snapshot.
    @inline(__always)
    func pool(_ endpoint: Int32) -> UpstreamPool { pools[Int(endpoint)] }

    /// Whether a request should pass over `pool`, one of the destination's endpoints
    /// (`snapshot.endpointIDs[start ..< start + count]`): it is ejected and another one is not.
    func shouldSkipEjected(_ pool: UpstreamPool, start: Int, count: Int) -> Bool {
        let now = loop.now
        guard pool.isEjected(now: now) else { return false }
        for offset in 0..<count where !self.pool(snapshot.endpointIDs[start + offset]).isEjected(now: now) {
            return true
        }
        return false
    }

    /// A connect to `pool`'s endpoint succeeded or failed: passive health bookkeeping.
    func connectSucceeded(_ pool: UpstreamPool) { pool.connectSucceeded() }

    func connectFailed(_ pool: UpstreamPool) {
        if pool.connectFailed(now: loop.now) { stats.upstreamEjections &+= 1 }
    }

    // MARK: Cross-thread input

    private func handleWakeUp() {
        if snapshots.currentVersion() != snapshotBoxVersion {
            let (next, boxVersion) = snapshots.load()
            snapshotBoxVersion = boxVersion
            adopt(next)
        }
        if control.drainRequested.load(ordering: .acquiring) && !draining {
            beginDrain()
        }
    }

    /// Switches to a new snapshot: pools of addresses still present carry over (with their idle
    /// connections); pools of addresses that left the table are retired and their idle
    /// connections closed, so keep-alive reuse never serves a stale route. Busy connections to a
    /// retired pool finish their exchange and are closed instead of parked.
    private func adopt(_ next: ProxySnapshot) {
        var previous: [SocketAddress: UpstreamPool] = [:]
        for pool in pools { previous[pool.address] = pool }
        var adopted: [UpstreamPool] = []
        adopted.reserveCapacity(next.endpointAddresses.count)
        for (index, address) in next.endpointAddresses.enumerated() {
            adopted.append(previous.removeValue(forKey: address)
                           ?? UpstreamPool(address: address, name: next.endpointNames[index]))
        }
        for gone in previous.values {
            for connection in gone.retire() { connection.close() }
        }
        pools = adopted
        roundRobin = [UInt32](repeating: 0, count: next.table.destinations.count)
        // A reload may raise the head limits: the parser needs storage for every field it may
        // accept, and a head up to the limit (plus headroom) must fit a large buffer.
        let headLimits = next.configuration.http1
        if requestHeaders.capacity < headLimits.maxHeaderCount {
            requestHeaders = HeaderStorage(capacity: headLimits.maxHeaderCount)
            responseHeaders = HeaderStorage(capacity: headLimits.maxHeaderCount)
        }
        buffers.setLargeSize(Worker.largeBufferSize(headLimits))
        if next.fileLoad != accessLogFileLoad {
            // The old writer flushes what it holds and closes its file as it goes.
            accessLog = AccessLogWriter(target: next.configuration.accessLog)
            accessLogFileLoad = next.fileLoad
        }
        snapshot = next
        timeouts = next.configuration.timeouts
        limits = next.configuration.limits
        http1Limits = headLimits
        loop.batchWindowNanoseconds = next.configuration.batchWindowMicroseconds * 1_000
        // The send buffer is the pool's chunk size: it stays as the process started (a restart
        // applies it; ReloadPolicy says so).
        var http2 = HTTP2Settings(next.configuration.http2)
        http2.streamSendBufferBytes = http2Buffers.chunkBytes
        http2Settings = http2
        stats.tableVersion = next.version
    }

    /// Stops accepting, closes idle connections, and lets busy ones finish; the loop stops when
    /// the last session closes. After a handover the listeners the successor holds are released
    /// without accepting, and idle HTTP/1.1 connections get `handoverIdleGraceMilliseconds`.
    private func beginDrain() {
        draining = true
        let handedOver = control.listenersHandedOver.withLock { $0 }
        if let handedOver {
            drainIdleGraceMilliseconds = Worker.handoverIdleGraceMilliseconds
            for listener in listeners {
                if handedOver.contains(listener.fd) { listener.release() } else { listener.close() }
            }
        } else {
            for listener in listeners { listener.close() }
        }
        listeners.removeAll()
        for session in sessions { session.drain() }
        for pool in pools {
            for connection in pool.retire() { connection.close() }
        }
        if sessions.isEmpty { loop.stop() }
    }

    private func publishStats() {
        stats.buffersInUse = buffers.chunksInUse + buffers.largeInUse
        stats.requestsInFlight = requestsInFlight
        stats.batchPauses = UInt64(loop.batchPauses)
        stats.bufferBytesReserved = buffers.reservedBytes
        let copy = stats
        control.publishedStats.withLock { $0 = copy }
        accessLog?.flush()
    }
}
