import DevmeshHTTP1
import DevmeshIO

/// One downstream HTTP/1.1 connection, driving one exchange at a time.
///
/// ```
/// awaitingHead ─► (route) ─► connecting ─► exchanging ─► awaitingHead (keep-alive, pipelined next)
///      │                          │             │   └──► tunneling (101 Switching Protocols)
///      └──► respondingLocally ◄───┴─────────────┘        (4xx on bad input, 5xx before any
///                                                          response byte went downstream)
/// ```
///
/// Every event lands in `drive()`, which keeps calling the phase's step function while it makes
/// progress. Steps never block: reads stop at EAGAIN (or at a short read, which means the socket
/// is drained for now), writes stop when the kernel takes less than offered. At most one buffer
/// per direction is in flight, so a slow side pauses reading from the other (backpressure) and
/// memory per connection is bounded whatever the body size. An idle keep-alive connection holds
/// no buffer.
final class HTTP1Session: EventHandler, UpstreamOwner {
    enum Phase {
        case awaitingHead
        case connecting
        case exchanging
        case tunneling
        case respondingLocally
        /// The request goes to an h2c destination through a `StreamExchange` (translated).
        case translating
        /// Our side is shut; discarding what the client still sends until it closes.
        case lingering
        case closed
    }

    /// The worker owns this object (through its loop's slot table) and outlives it, so the
    /// back-reference needs no reference counting.
    unowned(unsafe) let worker: Worker
    let fd: Int32
    private(set) var slot: Slot = .invalid
    /// Position in the worker's session list (for O(1) removal).
    var registryIndex = -1

    var phase: Phase = .awaitingHead
    /// Request bytes (head, body, pipelined requests); nil while idle.
    var buffer: IOBuffer?
    /// Edge-triggered readiness. A read that returns fewer bytes than asked clears `canRead`
    /// (the socket is drained for now; new bytes bring a new edge) — except after a half-close:
    /// the FIN may arrive in the same edge as the last bytes, so reads continue until they
    /// return 0, or the end of the stream would never be seen.
    var canRead = false
    var canWrite = true
    /// The client shut down its sending side (FIN): no more requests will come.
    var clientHalfClosed = false
    /// The worker is draining: finish the exchange in flight, then close.
    var drainRequested = false

    // Head parsing.
    var headScanHint = 0
    /// No request has been parsed yet: the first bytes may still be the HTTP/2 preface.
    var mayBeHTTP2 = true
    /// When the first byte of the pending head arrived (0: no byte yet).
    var headStartedAt: Int64 = 0
    var idleSince: Int64 = 0
    /// Draining with a grace for idle connections (after a handover): close when still idle
    /// then (0: no such deadline).
    var drainIdleDeadline: Int64 = 0

    var exchange = Exchange()
    /// The current request counts in `worker.requestsInFlight`.
    var holdsRequestSlot = false
    var upstream: UpstreamConnection?
    /// A response devmesh writes itself (error pages), with what to do once it is out.
    var localResponse: IOBuffer?
    var closeAfterLocalResponse = true
    /// Tunnel (after 101): which sides have sent their FIN.
    var tunnelClientDone = false
    var tunnelUpstreamDone = false
    /// Lingering close after an error answer.
    var lingerDeadline: Int64 = 0
    var lingerDiscarded = 0
    /// An exchange translated to HTTP/2 (phase `.translating`).
    var translated = TranslatedState()
    /// The access-log fields of the current request, when the access log is on.
    var logRecord = AccessLogRecord()

    init(worker: Worker, fd: Int32) {
        self.worker = worker
        self.fd = fd
    }

    func start() throws(Errno) {
        slot = try worker.loop.register(fd, handler: self)
        idleSince = worker.loop.now
        // Most clients send their request right behind the handshake: try to read it now
        // instead of waiting a loop iteration for the readable edge.
        canRead = true
        drive()
    }

    // MARK: Events

    func handleEvents(_ events: UInt32) {
        if events & (EventLoop.Events.readable | EventLoop.Events.hangUp | EventLoop.Events.error) != 0 {
            canRead = true
        }
        if events & EventLoop.Events.writable != 0 { canWrite = true }
        if events & EventLoop.Events.peerHalfClosed != 0 { clientHalfClosed = true }
        if events & (EventLoop.Events.hangUp | EventLoop.Events.error) != 0,
           phase != .awaitingHead && phase != .lingering && phase != .respondingLocally {
            // The client is gone (RST, or both directions shut): nothing can be delivered.
            if phase == .translating { abortTranslated() } else { abortExchange(clientGone: true) }
            return
        }
        drive()
    }

    /// Runs the current phase until it stops making progress, then makes sure a timer covers the
    /// deadline of whatever it is now waiting for.
    func drive() {
        while true {
            let progressed: Bool
            switch phase {
            case .awaitingHead: progressed = advanceHead()
            case .connecting: progressed = false
            case .exchanging: progressed = advanceExchange()
            case .tunneling: progressed = advanceTunnel()
            case .respondingLocally: progressed = advanceLocalResponse()
            case .translating: progressed = advanceTranslated()
            case .lingering: progressed = advanceLingering()
            case .closed: return
            }
            if !progressed { break }
        }
        armTimer()
    }

    // MARK: Deadlines

    /// The deadline of what the session is waiting for right now, or nil for none.
    private func currentDeadline() -> Int64? {
        let timeouts = worker.timeouts
        switch phase {
        case .awaitingHead:
            if headStartedAt != 0 { return headStartedAt + timeouts.requestHead.value }
            let idleEnd = idleSince + timeouts.downstreamIdle.value
            return drainIdleDeadline != 0 ? min(idleEnd, drainIdleDeadline) : idleEnd
        case .connecting:
            return nil // the upstream connection carries the connect timeout
        case .exchanging:
            if !exchange.finalHeadReceived && exchange.requestSentAt != 0 && timeouts.upstreamResponse.value > 0 {
                return exchange.requestSentAt + timeouts.upstreamResponse.value
            }
            if timeouts.streamIdle.value > 0 {
                return exchange.lastProgressAt + timeouts.streamIdle.value
            }
            return nil
        case .tunneling:
            return exchange.lastProgressAt + max(timeouts.streamIdle.value, timeouts.downstreamIdle.value)
        case .respondingLocally:
            return exchange.lastProgressAt + max(timeouts.streamIdle.value, 1000)
        case .translating:
            // The exchange keeps the upstream deadlines; this one bounds a client that stalls.
            return timeouts.streamIdle.value > 0 ? exchange.lastProgressAt + timeouts.streamIdle.value : nil
        case .lingering:
            return lingerDeadline
        case .closed:
            return nil
        }
    }

    /// Arms the slot timer no later than the current deadline. Deadlines only move later as work
    /// progresses, so a timer that is already earlier is left alone and simply re-armed when it
    /// fires early (no timer work per read or write).
    private func armTimer() {
        guard phase != .closed, let deadline = currentDeadline() else { return }
        if let armed = worker.loop.timerDeadline(slot), armed <= deadline { return }
        worker.loop.setTimer(slot, deadline: deadline)
    }

    func handleTimer() {
        guard let deadline = currentDeadline() else { return }
        let now = worker.loop.now
        if now < deadline {
            worker.loop.setTimer(slot, deadline: deadline)
            return
        }
        expire()
        // What expiring started (an error answer, a lingering close) continues here: no
        // readiness edge will come for it.
        drive()
    }

    private func expire() {
        switch phase {
        case .awaitingHead:
            if headStartedAt != 0 {
                // Slowloris: the head did not complete in time.
                worker.stats.headTimeouts &+= 1
                respondLocally(status: 408, message: "request head not received in time", close: true)
            } else {
                close()
            }
        case .exchanging:
            if !exchange.finalHeadReceived && exchange.requestSentAt != 0 {
                upstreamFailed(.responseTimeout)
            } else {
                upstreamFailed(.streamIdleTimeout)
            }
        case .tunneling, .respondingLocally, .connecting:
            abortExchange(clientGone: false)
        case .translating:
            abortTranslated()
        case .lingering:
            close()
        case .closed:
            break
        }
    }

    // MARK: Draining and closing

    /// The worker is draining: an idle connection closes now (or, after a handover, when it is
    /// still idle at the end of the worker's grace), a busy one after its exchange.
    func drain() {
        drainRequested = true
        guard phase == .awaitingHead && headStartedAt == 0 && (buffer?.isEmpty ?? true) else { return }
        let grace = worker.drainIdleGraceMilliseconds
        if grace == 0 {
            close()
            return
        }
        drainIdleDeadline = worker.loop.now + grace
        armTimer()
    }

    /// An exchange ended while draining, and its response did not say `connection: close` (the
    /// drain began after its head went out): whether to close now. On SIGTERM, yes. After a
    /// handover the client, never told, may be sending its next request already, which would
    /// meet a closed connection; so the connection stays for the worker's idle grace and that
    /// next request is answered, with `connection: close`.
    func closesAfterExchangeForDrain() -> Bool {
        guard drainRequested else { return false }
        let grace = worker.drainIdleGraceMilliseconds
        if grace == 0 { return true }
        if drainIdleDeadline == 0 { drainIdleDeadline = worker.loop.now + grace }
        return false
    }

    /// Closes the downstream connection and everything it holds.
    func close(abort: Bool = false) {
        guard phase != .closed else { return }
        if let translatedExchange = translated.exchange {
            translated.exchange = nil
            translatedExchange.detachDownstream(completed: false)
        }
        if let out = translated.out {
            worker.buffers.give(out)
            translated.out = nil
        }
        if let trailers = translated.trailerBytes {
            worker.buffers.give(trailers)
            translated.trailerBytes = nil
        }
        phase = .closed
        releaseRequestSlot()
        if let upstream {
            upstream.close(abort: true)
            self.upstream = nil
        }
        if let buffer {
            worker.buffers.give(buffer)
            self.buffer = nil
        }
        if let localResponse {
            worker.buffers.give(localResponse)
            self.localResponse = nil
        }
        worker.loop.deregister(slot)
        if abort { Sockets.abortiveClose(fd) } else { Syscall.close(fd) }
        worker.sessionClosed(self)
    }

    /// Gives the request buffer back when it holds nothing (idle keep-alive holds no buffer).
    func releaseBufferIfEmpty() {
        if let buffer, buffer.isEmpty {
            worker.buffers.give(buffer)
            self.buffer = nil
        }
    }

    // MARK: Overload

    /// Answers a connection above the per-worker cap with a canned 503 and closes it, without
    /// registering it anywhere (one write attempt; a client that is not reading gets nothing).
    static func rejectOverloaded(_ fd: Int32) {
        LocalResponses.overloaded.withUTF8Buffer { bytes in
            _ = try? Syscall.send(fd, bytes.baseAddress!, bytes.count)
        }
        Syscall.close(fd)
    }
}
