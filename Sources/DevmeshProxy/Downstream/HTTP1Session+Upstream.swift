import DevmeshIO

/// Choosing and connecting an upstream for the current exchange, and what happens when that fails:
/// try the destination's other endpoints, then the route's fallback (if it has one), then answer
/// with the failure. A request that hit a reused connection the upstream had already closed is
/// replayed once on a fresh connection.
extension HTTP1Session {
    func acquireUpstream() {
        let snapshot = worker.snapshot
        guard exchange.snapshotVersion == snapshot.version else {
            // The table changed while this request was failing over; its destination ids no
            // longer apply. Report what failed rather than guessing a new route.
            respondWithFailure(exchange.lastFailure ?? .noEndpoint)
            return
        }
        let destination = Int(exchange.destination)
        let start = Int(snapshot.destinationStart[destination])
        let count = Int32(snapshot.destinationCount[destination])
        while exchange.endpointsTried < count {
            let index = (exchange.endpointCursor &+ UInt32(exchange.endpointsTried)) % UInt32(count)
            let endpoint = snapshot.endpointIDs[start + Int(index)]
            exchange.endpointsTried += 1
            exchange.endpoint = endpoint
            let pool = worker.pool(endpoint)
            if !exchange.needsFreshConnection, let idle = pool.popIdle() {
                idle.lend(to: self)
                attach(idle)
                return
            }
            if worker.shouldSkipEjected(pool, start: start, count: Int(count)) { continue }
            if pool.openCount >= worker.limits.upstreamMaxConnectionsPerEndpoint {
                exchange.lastFailure = .poolExhausted
                continue
            }
            switch UpstreamConnection.connect(worker: worker, pool: pool, owner: self,
                                              timeoutMilliseconds: worker.timeouts.upstreamConnect.value) {
            case .connected(let connection):
                attach(connection)
                return
            case .pending(let connection):
                upstream = connection
                phase = .connecting
                return
            case .failed(let failure):
                countFailure(failure)
                exchange.lastFailure = failure
            }
        }
        connectPhaseFailed(exchange.lastFailure ?? .noEndpoint)
    }

    /// Every endpoint of the destination failed before the request could reach it.
    private func connectPhaseFailed(_ failure: UpstreamFailure) {
        let snapshot = worker.snapshot
        let destination = snapshot.table.destinations[Int(exchange.destination)]
        if !exchange.usedFallback, let fallback = destination.fallbackDestination {
            worker.stats.fallbacks &+= 1
            exchange.usedFallback = true
            exchange.destination = Int32(fallback)
            exchange.isSandbox = false
            exchange.endpointsTried = 0
            exchange.endpointCursor = worker.roundRobin[fallback]
            worker.roundRobin[fallback] &+= 1
            acquireUpstream()
            return
        }
        respondWithFailure(failure)
    }

    private func attach(_ connection: UpstreamConnection) {
        upstream = connection
        phase = .exchanging
        exchange.lastProgressAt = worker.loop.now
    }

    func countFailure(_ failure: UpstreamFailure) {
        worker.stats.upstreamFailures[failure.rawValue] &+= 1
    }

    // MARK: UpstreamOwner

    func upstreamConnected(_ connection: UpstreamConnection) {
        guard connection === upstream, phase == .connecting else { return }
        attach(connection)
        drive()
    }

    func upstreamConnectFailed(_ connection: UpstreamConnection, _ failure: UpstreamFailure) {
        guard connection === upstream, phase == .connecting else { return }
        upstream = nil
        countFailure(failure)
        exchange.lastFailure = failure
        acquireUpstream()
        drive()
    }

    func upstreamEvents(_ connection: UpstreamConnection, _ events: UInt32) {
        guard connection === upstream else { return }
        drive()
    }

    func upstreamTimer(_ connection: UpstreamConnection) {
        // Deadlines of a busy connection are tracked by the session's own timer.
    }

    // MARK: Failures after the request may have reached the upstream

    /// The upstream broke (reset, closed early, malformed, timed out). Replays the request once
    /// when that is safe; otherwise answers with the failure if nothing was sent downstream yet,
    /// or cuts the downstream connection (never completing a truncated response).
    func upstreamFailed(_ failure: UpstreamFailure) {
        countFailure(failure)
        if let connection = upstream {
            let reused = connection.isReused
            connection.close(abort: true)
            upstream = nil
            if canReplay(after: failure, reusedConnection: reused) {
                worker.stats.upstreamRetries &+= 1
                exchange.retried = true
                exchange.needsFreshConnection = true
                exchange.forwardStart = exchange.requestStart
                exchange.endpointsTried = 0
                exchange.requestSentAt = 0
                exchange.responseBytesReceived = 0
                exchange.responseScanHint = 0
                acquireUpstream()
                return
            }
        }
        if exchange.responseStarted {
            finishAccessLog(status: exchange.status, failure: failure)
            close(abort: true)
        } else {
            respondWithFailure(failure)
        }
    }

    /// The keep-alive race: a pooled connection the upstream closed just as we reused it. The
    /// request is replayed once, on a fresh connection, when no response byte arrived, the whole
    /// request is still buffered, and replaying cannot run a non-idempotent request twice.
    private func canReplay(after failure: UpstreamFailure, reusedConnection: Bool) -> Bool {
        guard reusedConnection, !exchange.retried, exchange.responseBytesReceived == 0,
              exchange.requestReplayable, !exchange.responseStarted else { return false }
        switch failure {
        case .reset, .closedEarly: return exchange.isIdempotent
        default: return false
        }
    }

    /// Answers the client with the failure (nothing of a response was sent yet).
    func respondWithFailure(_ failure: UpstreamFailure) {
        if let connection = upstream {
            connection.close(abort: !exchange.requestComplete)
            upstream = nil
        }
        let snapshot = worker.snapshot
        var message = failure.explanation
        if exchange.snapshotVersion == snapshot.version, exchange.destination >= 0 {
            let destination = snapshot.table.destinations[Int(exchange.destination)]
            if let key = destination.routingKey {
                message = "sandbox \"\(destination.name)\" (routing key \(key)) is unreachable: \(failure.explanation)"
            } else {
                message = "baseline of service \"\(destination.name)\" is unreachable: \(failure.explanation)"
            }
        }
        finishAccessLog(status: failure.status, failure: failure)
        worker.stats.countRequest(sandbox: exchange.isSandbox, status: failure.status)
        // The connection can carry another request only if this one was read to its end.
        let close = !exchange.requestComplete || !exchange.clientKeepAlive || drainRequested
        if !close, var current = buffer {
            current.start = exchange.forwardEnd
            buffer = current
        }
        respondLocally(status: failure.status, message: message, close: close, counted: true)
    }
}
