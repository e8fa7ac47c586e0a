import DevmeshBytes
import DevmeshHTTP2
import DevmeshIO

/// A client's h2c connection: the socket on one side, an `HTTP2Session` (server role) on the
/// other, and one `StreamExchange` per open stream. Every stream is routed on its own.
///
/// Socket I/O is `HTTP2Transport`'s; output is flushed once per loop turn (`scheduleFlush`), so
/// frames that several exchanges add in one turn leave together.
final class HTTP2Downstream: EventHandler, HTTP2SessionDelegate, DownstreamConnection, TurnFlushedSession {
    unowned(unsafe) let worker: Worker
    /// The worker's loop as a strong constant of our own: through the `unowned(unsafe)` worker,
    /// each use (a flush scheduled per frame submitted, the clock) cost a retain/release pair.
    let loop: EventLoop
    let fd: Int32
    let slot: Slot
    var registryIndex = -1
    let session: HTTP2Session
    /// Open streams and their exchanges (an `HTTP2StreamMap`, not a `Dictionary`: hashing and
    /// copy-on-write checks on every frame cost 2 % of a gRPC call).
    private var exchanges: HTTP2StreamMap<StreamExchange>
    private let transport: HTTP2Transport
    private var closed = false
    private var draining = false
    private var drainStartedAt: Int64 = 0
    private var lastActivity: Int64
    /// A flush is scheduled for the end of this loop turn (events of other connections may add
    /// frames to this session: they are written once, together).
    private var flushScheduled = false
    /// Bytes of the connection preface (and anything after it) read by the HTTP/1.1 session
    /// before it handed the connection over.
    private var initialBytes: IOBuffer?
    /// The session failed and its GOAWAY was handed to the kernel: the write side is shut and
    /// the socket stays open (not read) until the client closes or `closeAt` passes.
    private var lingering = false
    private var closeAt: Int64 = 0
    /// The client half-closed (its FIN arrived): nobody is left to read a lingering GOAWAY.
    private var peerHalfClosed = false

    /// How long the second GOAWAY of a graceful shutdown waits for the PING round trip.
    static let goAwayPingWaitMilliseconds: Int64 = 1000
    /// How long a failed connection stays open after its GOAWAY, for the client to read it.
    static let goAwayLingerMilliseconds: Int64 = 2000

    init(worker: Worker, fd: Int32, slot: Slot, initialBytes: IOBuffer?) {
        self.worker = worker
        loop = worker.loop
        self.fd = fd
        self.slot = slot
        self.initialBytes = initialBytes
        session = HTTP2Session(role: .server, settings: worker.http2Settings, bufferPool: worker.http2Buffers)
        transport = HTTP2Transport(fd: fd, buffers: worker.buffers)
        transport.canRead = true
        transport.canWrite = true
        lastActivity = loop.now
        exchanges = HTTP2StreamMap(expected: worker.http2Settings.maxConcurrentStreams)
        session.delegate = self
    }

    deinit {
        exchanges.deallocate()
    }

    /// Takes over the registration of an HTTP/1.1 session whose first bytes were the preface.
    func start() {
        worker.stats.http2Connections &+= 1
        if let bytes = initialBytes {
            initialBytes = nil
            lastActivity = loop.now
            if transport.feed(bytes.validBytes, to: session, now: loop.now) == .protocolError {
                countFailure()
            }
            worker.buffers.give(bytes)
        }
        drive()
    }

    // MARK: EventHandler

    func handleEvents(_ events: UInt32) {
        if events == EventLoop.Events.resume {
            flushScheduled = false
            flush()
            finishIfDone()
            return
        }
        if events & (EventLoop.Events.peerHalfClosed | EventLoop.Events.hangUp | EventLoop.Events.error) != 0 {
            peerHalfClosed = true
        }
        if lingering {
            if peerHalfClosed { close() }
            return
        }
        transport.note(events)
        drive()
    }

    func handleTimer() {
        let now = loop.now
        if lingering {
            if now >= closeAt { close() } else { armTimer() }
            return
        }
        if draining, now - drainStartedAt >= Self.goAwayPingWaitMilliseconds {
            session.goAway(.noError, graceful: false)
            drive()
            return
        }
        if exchanges.isEmpty, now - lastActivity >= worker.timeouts.downstreamIdle.value {
            session.goAway(.noError, graceful: false)
            flush()
            close()
            return
        }
        armTimer()
    }

    private func armTimer() {
        guard !closed else { return }
        let deadline = lingering ? closeAt
            : draining ? drainStartedAt + Self.goAwayPingWaitMilliseconds
            : lastActivity + worker.timeouts.downstreamIdle.value
        if let armed = loop.timerDeadline(slot), armed <= deadline { return }
        loop.setTimer(slot, deadline: deadline)
    }

    /// Reads what the socket has, feeds the session, writes what it produced.
    private func drive() {
        guard !closed else { return }
        let now = loop.now
        switch transport.read(into: session, now: now, willReceive: { _ in lastActivity = now }) {
        case .idle: break
        case .protocolError: countFailure() // the GOAWAY goes out below, then the linger
        case .closed, .failed: return close()
        }
        flush()
        finishIfDone()
        armTimer()
    }

    private func countFailure() {
        if let failure = session.failure { worker.stats.countHTTP2Failure(failure) }
    }

    /// Asks for a flush at the end of this loop turn (from another connection's events).
    func scheduleFlush() {
        guard !flushScheduled, !closed else { return }
        flushScheduled = true
        loop.resumeLater(slot)
    }

    /// Writes pending output, then whatever the session produces, until the kernel stops taking it.
    func flush() {
        guard !closed else { return }
        if transport.flush(session) == .failed { close() }
    }

    private func finishIfDone() {
        guard !closed, !lingering, transport.isDrained, session.isFinished else { return }
        if session.failure != nil && !peerHalfClosed {
            lingerAfterGoAway()
        } else {
            close()
        }
    }

    /// The session failed (a flood, a protocol error) and its GOAWAY is in the kernel's send
    /// queue, behind whatever the client has not read yet. Closing now, with the client's unread
    /// bytes in our receive queue, would make the kernel send RST and drop that queue, GOAWAY
    /// included: the client would never learn why. So: FIN after the GOAWAY, stop reading (a
    /// flooder is held back by TCP flow control), and close when the client closes or after
    /// `goAwayLingerMilliseconds`.
    private func lingerAfterGoAway() {
        lingering = true
        closeAt = loop.now + Self.goAwayLingerMilliseconds
        Syscall.shutdownWrite(fd)
        forgetAllExchanges()
        armTimer()
    }

    func drain() {
        guard !draining else { return }
        draining = true
        drainStartedAt = loop.now
        session.goAway(.noError, graceful: true)
        flush()
        finishIfDone()
        armTimer()
    }

    func close() {
        guard !closed else { return }
        closed = true
        worker.stats.add(session.counters)
        forgetAllExchanges()
        transport.release()
        if let initialBytes {
            worker.buffers.give(initialBytes)
            self.initialBytes = nil
        }
        loop.deregister(slot)
        Syscall.close(fd)
        session.delegate = nil
        worker.sessionClosed(self)
    }

    // MARK: Streams, as the exchanges see them

    func respond(_ stream: HTTP2StreamID, headers: UnsafeBufferPointer<HeaderField>, endStream: Bool) {
        session.submitResponse(stream, headers: headers, endStream: endStream)
        scheduleFlush()
    }

    func reset(_ stream: HTTP2StreamID, code: HTTP2ErrorCode) {
        session.resetStream(stream, code: code)
        scheduleFlush()
    }

    /// The exchange of `stream` is over on both sides.
    func exchangeFinished(_ stream: HTTP2StreamID) {
        if exchanges.removeValue(for: stream.rawValue) != nil { worker.requestsInFlight -= 1 }
    }

    /// Every open stream's exchange hears that the client is gone. The table is emptied first:
    /// an exchange that finishes on the spot calls `exchangeFinished`, which must find nothing.
    private func forgetAllExchanges() {
        let closing = exchanges.removeAll()
        worker.requestsInFlight -= closing.count
        for exchange in closing { exchange.downstreamClosed() }
    }

    // MARK: HTTP2SessionDelegate

    func http2Session(_ session: HTTP2Session, didReceiveHeaders fields: UnsafeBufferPointer<HeaderField>,
                      kind: HTTP2HeaderBlockKind, stream: HTTP2StreamID, endStream: Bool) {
        switch kind {
        case .request:
            guard worker.requestsInFlight < worker.limits.maxRequestsPerWorker else {
                // Overload: refuse the stream at once (reliability.md F18). REFUSED_STREAM tells
                // the client nothing was processed, so it may retry, here or elsewhere.
                worker.stats.requestsShed &+= 1
                session.resetStream(stream, code: .refusedStream)
                scheduleFlush()
                return
            }
            worker.requestsInFlight += 1
            let exchange = worker.takeStreamExchange()
            exchanges.insert(stream.rawValue, exchange)
            exchange.begin(downstream: self, stream: stream, fields: fields, endStream: endStream)
        case .trailers:
            exchanges[stream.rawValue]?.requestTrailers(fields)
        case .informational, .response:
            break // a server never receives responses
        }
    }

    func http2Session(_ session: HTTP2Session, didReceiveData bytes: UnsafeRawBufferPointer,
                      stream: HTTP2StreamID, endStream: Bool) {
        exchanges[stream.rawValue]?.requestData(bytes, endStream: endStream)
    }

    func http2Session(_ session: HTTP2Session, streamDidClose stream: HTTP2StreamID,
                      reason: HTTP2StreamCloseReason) {
        guard let exchange = exchanges.removeValue(for: stream.rawValue) else { return }
        worker.requestsInFlight -= 1
        exchange.downstreamStreamClosed(reason)
    }

    func http2Session(_ session: HTTP2Session, streamCanSendMore stream: HTTP2StreamID) {
        exchanges[stream.rawValue]?.downstreamCanSendMore()
    }
}
