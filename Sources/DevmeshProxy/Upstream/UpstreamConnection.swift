import DevmeshIO

/// What an upstream connection reports to the exchange using it. Implemented by the HTTP/1.1
/// session today and by HTTP/2 streams later, so pooling stays protocol-agnostic.
protocol UpstreamOwner: AnyObject {
    /// A connect started for this owner completed.
    func upstreamConnected(_ connection: UpstreamConnection)
    /// A connect started for this owner failed or timed out.
    func upstreamConnectFailed(_ connection: UpstreamConnection, _ failure: UpstreamFailure)
    /// Readiness changed on the connection while the owner holds it.
    func upstreamEvents(_ connection: UpstreamConnection, _ events: UInt32)
    /// The connection's timer fired while the owner holds it.
    func upstreamTimer(_ connection: UpstreamConnection)
}

/// One TCP connection to an upstream address, owned by a worker.
///
/// Life: `connecting` → `busy` (lent to one exchange) ⇄ `idle` (parked in its pool) → `closed`.
/// While idle it stays registered with epoll: any readiness (the peer closed, or sent bytes
/// nobody asked for) retires it at once, which keeps the keep-alive race window small; its
/// timer is the pool's idle timeout.
final class UpstreamConnection: EventHandler {
    enum State { case connecting, busy, idle, closed }

    /// The worker owns this object (through its loop's slot table) and outlives it, so the
    /// back-reference needs no reference counting.
    unowned(unsafe) let worker: Worker
    /// Strong: a reload can drop the pool from the worker while this connection is busy; the
    /// connection must still be able to report back to it (and be refused, since it is retired).
    /// The pool references only its idle connections, and drops them when it retires.
    let pool: UpstreamPool
    let fd: Int32
    private(set) var slot: Slot = .invalid
    private(set) var state: State
    /// The exchange using this connection (busy or connecting). Strong: the owner also holds
    /// the connection, and the cycle is broken whenever the connection is released or closed.
    var owner: (any UpstreamOwner)?
    /// Response bytes read from the upstream, on loan from the worker's pool while in flight.
    var buffer: IOBuffer?
    /// Edge-triggered readiness: true until a read/write reports that the kernel is drained/full.
    var canRead = false
    var canWrite = false
    /// The upstream sent FIN (or RST): reads will end at what is buffered.
    var peerClosed = false
    /// Exchanges completed on this connection (0 while serving its first).
    private(set) var completedExchanges = 0

    var isReused: Bool { completedExchanges > 0 }

    private init(worker: Worker, pool: UpstreamPool, fd: Int32, state: State) {
        self.worker = worker
        self.pool = pool
        self.fd = fd
        self.state = state
    }

    enum ConnectOutcome {
        /// Connected at once (loopback often does): usable now.
        case connected(UpstreamConnection)
        /// In progress: the owner hears back through `upstreamConnected` / `upstreamConnectFailed`.
        case pending(UpstreamConnection)
        case failed(UpstreamFailure)
    }

    /// Starts a non-blocking connect on behalf of `owner`.
    static func connect(worker: Worker, pool: UpstreamPool, owner: any UpstreamOwner,
                        timeoutMilliseconds: Int64) -> ConnectOutcome {
        let fd: Int32
        let connected: Bool
        do {
            (fd, connected) = try Sockets.connect(to: pool.address)
        } catch {
            return .failed(.connecting(error))
        }
        let connection = UpstreamConnection(worker: worker, pool: pool, fd: fd, state: .connecting)
        do {
            connection.slot = try worker.loop.register(fd, handler: connection)
        } catch {
            Syscall.close(fd)
            return .failed(.connectError)
        }
        pool.connectionOpened()
        worker.stats.upstreamOpen += 1
        worker.stats.upstreamConnects &+= 1
        connection.owner = owner
        if connected {
            connection.state = .busy
            connection.canWrite = true
            return .connected(connection)
        }
        worker.loop.setTimer(connection.slot, deadline: worker.loop.now + timeoutMilliseconds)
        return .pending(connection)
    }

    /// Lends an idle connection to `owner`.
    func lend(to owner: any UpstreamOwner) {
        precondition(state == .idle, "lending a connection that is not idle")
        state = .busy
        canRead = false
        self.owner = owner
        worker.loop.cancelTimer(slot)
        worker.stats.upstreamReused &+= 1
    }

    /// Ends the current exchange cleanly. Parks the connection in its pool, or closes it when the
    /// pool is full or retired. The buffer must already be returned.
    func release(idleTimeoutMilliseconds: Int64, maxIdle: Int) {
        precondition(state == .busy && buffer == nil, "releasing a connection mid-exchange")
        owner = nil
        completedExchanges += 1
        guard !peerClosed, pool.park(self, maxIdle: maxIdle) else {
            close()
            return
        }
        state = .idle
        worker.loop.setTimer(slot, deadline: worker.loop.now + idleTimeoutMilliseconds)
    }

    /// Closes the connection. `abort` sends RST instead of FIN (the request was cut mid-way, and
    /// the upstream must not take a truncated body for a complete one).
    func close(abort: Bool = false) {
        guard state != .closed else { return }
        if state == .idle { pool.removeIdle(self) }
        state = .closed
        owner = nil
        if let buffer {
            worker.buffers.give(buffer)
            self.buffer = nil
        }
        worker.loop.deregister(slot)
        if abort { Sockets.abortiveClose(fd) } else { Syscall.close(fd) }
        pool.connectionClosed()
        worker.stats.upstreamOpen -= 1
    }

    // MARK: EventHandler

    func handleEvents(_ events: UInt32) {
        if events & (EventLoop.Events.readable | EventLoop.Events.hangUp | EventLoop.Events.error) != 0 {
            canRead = true
        }
        if events & EventLoop.Events.writable != 0 { canWrite = true }
        if events & (EventLoop.Events.peerHalfClosed | EventLoop.Events.hangUp) != 0 { peerClosed = true }
        switch state {
        case .connecting:
            guard events & (EventLoop.Events.writable | EventLoop.Events.error | EventLoop.Events.hangUp) != 0 else { return }
            finishConnect()
        case .busy:
            owner?.upstreamEvents(self, events)
        case .idle:
            // An idle connection has nothing to say: a hang-up or unexpected bytes retire it.
            // A bare readable edge can be stale (queued by the last segment of the response
            // we already read), so it is checked before the connection is thrown away.
            if events & (EventLoop.Events.peerHalfClosed | EventLoop.Events.hangUp | EventLoop.Events.error) != 0
                || (events & EventLoop.Events.readable != 0 && Syscall.hasPendingInputOrEnd(fd)) {
                close()
            }
        case .closed:
            break
        }
    }

    func handleTimer() {
        switch state {
        case .connecting:
            let owner = self.owner
            close(abort: true)
            owner?.upstreamConnectFailed(self, .connectTimeout)
        case .busy:
            owner?.upstreamTimer(self)
        case .idle:
            close()
        case .closed:
            break
        }
    }

    private func finishConnect() {
        worker.loop.cancelTimer(slot)
        if let error = Syscall.socketError(fd) {
            let owner = self.owner
            close()
            owner?.upstreamConnectFailed(self, .connecting(error))
            return
        }
        state = .busy
        canWrite = true
        owner?.upstreamConnected(self)
    }
}
