import DevmeshBytes
import DevmeshHTTP2
import DevmeshIO

/// One multiplexed h2c connection to an upstream endpoint (client role), shared by the exchanges
/// of one worker. A pool holds one per endpoint, more when the peer's concurrent-stream limit is
/// reached. GOAWAY from the upstream retires the connection: no new stream opens on it, streams
/// it never processed are handed back to their exchanges (which retry them elsewhere), and it
/// closes once the rest are done.
final class HTTP2UpstreamConnection: EventHandler, HTTP2SessionDelegate, TurnFlushedSession {
    enum State { case connecting, ready, closed }

    unowned(unsafe) let worker: Worker
    /// The worker's loop as a strong constant of our own: through the `unowned(unsafe)` worker,
    /// each use (a flush scheduled per frame submitted, the clock) cost a retain/release pair.
    let loop: EventLoop
    let pool: UpstreamPool
    let fd: Int32
    private(set) var slot: Slot = .invalid
    private(set) var state: State = .connecting
    let session: HTTP2Session
    /// Open streams and their exchanges (see `HTTP2Downstream.exchanges` for why not a Dictionary).
    private var streams: HTTP2StreamMap<StreamExchange>
    /// Exchanges that chose this connection while it was connecting.
    private var waiting: [StreamExchange] = []
    private let transport: HTTP2Transport
    private var flushScheduled = false
    private var idleSince: Int64
    /// The address left the route table: no new stream; close when the last one ends.
    private var retired = false
    /// Bytes read of the peer's connection preface, its first frame, a SETTINGS frame (RFC 9113
    /// §3.4), and that frame's payload length (from its first 3 bytes). Until the whole frame is
    /// in, one stream is opened and the other exchanges wait: the peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS may be smaller than what `availableStreamSlots` assumes
    /// meanwhile, and streams over it would be refused.
    private var peerPrefaceBytesSeen = 0
    private var peerPrefacePayloadLength = 0

    private init(worker: Worker, pool: UpstreamPool, fd: Int32) {
        self.worker = worker
        loop = worker.loop
        self.pool = pool
        self.fd = fd
        session = HTTP2Session(role: .client, settings: worker.http2Settings, bufferPool: worker.http2Buffers)
        transport = HTTP2Transport(fd: fd, buffers: worker.buffers)
        idleSince = loop.now
        streams = HTTP2StreamMap(expected: worker.http2Settings.maxConcurrentStreams)
        session.delegate = self
    }

    deinit {
        streams.deallocate()
    }

    /// Starts a connection for `pool`; the caller then `open`s its exchange on it.
    static func connect(worker: Worker, pool: UpstreamPool) -> Result<HTTP2UpstreamConnection, UpstreamFailureError> {
        let fd: Int32
        let connected: Bool
        do {
            (fd, connected) = try Sockets.connect(to: pool.address)
        } catch {
            worker.connectFailed(pool)
            return .failure(UpstreamFailureError(.connecting(error)))
        }
        let connection = HTTP2UpstreamConnection(worker: worker, pool: pool, fd: fd)
        do {
            connection.slot = try worker.loop.register(fd, handler: connection)
            worker.loop.setBatching(connection.slot, true)
        } catch {
            Syscall.close(fd)
            return .failure(UpstreamFailureError(.connectError))
        }
        pool.connectionOpened()
        pool.http2Connections.append(connection)
        worker.stats.upstreamOpen += 1
        worker.stats.upstreamConnects &+= 1
        if connected {
            connection.becomeReady()
        } else {
            worker.loop.setTimer(connection.slot, deadline: worker.loop.now + worker.timeouts.upstreamConnect.value)
        }
        return .success(connection)
    }

    /// The peer's SETTINGS have been processed: `availableStreamSlots` uses its limit.
    private var peerSettingsKnown: Bool {
        peerPrefaceBytesSeen >= 9 && peerPrefaceBytesSeen >= 9 + peerPrefacePayloadLength
    }

    /// Room for another stream now (ready) or once connected (connecting, or ready before the
    /// peer's SETTINGS arrived: the exchange waits for them).
    var hasCapacity: Bool {
        switch state {
        case .connecting: waiting.count < worker.http2Settings.maxConcurrentStreams
        case .ready where !peerSettingsKnown:
            !retired && !session.goAwayReceived && streams.count + waiting.count < worker.http2Settings.maxConcurrentStreams
        case .ready: !retired && !session.goAwayReceived && session.availableStreamSlots > 0
        case .closed: false
        }
    }

    /// Opens a stream for `exchange` now, or when the connection is up and the peer's limits known.
    func open(_ exchange: StreamExchange) {
        switch state {
        case .connecting:
            waiting.append(exchange)
        case .ready where !peerSettingsKnown && !streams.isEmpty:
            waiting.append(exchange)
        case .ready:
            submit(exchange)
        case .closed:
            exchange.upstreamStreamClosed(.refused)
        }
    }

    /// Opens streams for waiting exchanges while the peer allows more (after its SETTINGS, and
    /// as streams close, which they do while input is processed and output produced: so this
    /// runs after both). Never from inside the session's callbacks (nghttp2 is not re-entrant);
    /// `submit` schedules the flush that sends what it opened.
    private func submitWaiting() {
        guard state == .ready, peerSettingsKnown else { return }
        while !waiting.isEmpty && !retired && !session.goAwayReceived && session.availableStreamSlots > 0 {
            submit(waiting.removeFirst())
        }
        if !waiting.isEmpty && (retired || session.goAwayReceived) {
            // This connection will take no more streams: the exchanges look for another one.
            let moved = waiting
            waiting.removeAll()
            for exchange in moved { exchange.upstreamStreamClosed(.refused) }
        }
    }

    /// Follows the peer's first frame (its SETTINGS) through `bytes` read from the socket, which
    /// the session is about to process: once it is complete, the peer's limits are known.
    private func notePeerPreface(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        // The 24-bit payload length opens the frame header (RFC 9113 §4.1).
        while peerPrefaceBytesSeen < 3 && index < bytes.count {
            peerPrefacePayloadLength = peerPrefacePayloadLength << 8 | Int(bytes[index])
            peerPrefaceBytesSeen += 1
            index += 1
        }
        peerPrefaceBytesSeen += bytes.count - index
    }

    private func submit(_ exchange: StreamExchange) {
        guard let stream = session.submitRequest(headers: exchange.upstreamRequestHeaders,
                                                 endStream: exchange.requestEndsWithHead) else {
            exchange.upstreamStreamClosed(.refused)
            return
        }
        streams.insert(stream.rawValue, exchange)
        exchange.upstreamStreamOpened(self, stream)
        scheduleFlush()
    }

    /// The route table dropped this address: finish what is open, then close.
    func retire() {
        retired = true
        if streams.isEmpty && waiting.isEmpty {
            session.goAway(.noError, graceful: false)
            flush()
            close()
        }
    }

    /// An exchange no longer wants its stream (the client went away): reset it.
    func cancel(_ stream: HTTP2StreamID) {
        guard streams.removeValue(for: stream.rawValue) != nil else { return }
        session.resetStream(stream, code: .cancel)
        scheduleFlush()
    }

    /// An exchange waiting for the connect gave up.
    func forget(_ exchange: StreamExchange) {
        waiting.removeAll { $0 === exchange }
    }

    // MARK: EventHandler

    func handleEvents(_ events: UInt32) {
        if events == EventLoop.Events.resume {
            flushScheduled = false
            flush()
            submitWaiting()
            finishIfDone()
            return
        }
        transport.note(events)
        if state == .connecting {
            guard events & (EventLoop.Events.writable | EventLoop.Events.error | EventLoop.Events.hangUp) != 0 else { return }
            loop.cancelTimer(slot)
            if let error = Syscall.socketError(fd) {
                fail(error == Errno.connectionRefused ? .connectRefused : .connectError, beforeConnect: true)
                return
            }
            becomeReady()
        }
        drive()
    }

    func handleTimer() {
        switch state {
        case .connecting:
            fail(.connectTimeout, beforeConnect: true)
        case .ready:
            if streams.isEmpty && (retired || loop.now - idleSince >= worker.timeouts.upstreamIdle.value) {
                session.goAway(.noError, graceful: false)
                flush()
                close()
            } else if streams.isEmpty {
                loop.setTimer(slot, deadline: idleSince + worker.timeouts.upstreamIdle.value)
            }
        case .closed:
            break
        }
    }

    private func becomeReady() {
        worker.connectSucceeded(pool)
        state = .ready
        transport.canWrite = true
        // One stream goes out with our preface; the rest wait for the peer's SETTINGS.
        if !waiting.isEmpty { submit(waiting.removeFirst()) }
        flush()
    }

    private func drive() {
        guard state == .ready else { return }
        let outcome = transport.read(into: session, now: loop.now, willReceive: { bytes in
            if !peerSettingsKnown { notePeerPreface(bytes) }
        })
        switch outcome {
        case .idle: break
        case .protocolError:
            // The peer broke the protocol (or is not an HTTP/2 server at all): our GOAWAY goes
            // out if the socket takes it, and every exchange on the connection fails now,
            // instead of waiting for its response timeout.
            flush()
            return fail(.malformedResponse, beforeConnect: false)
        case .closed: return fail(.closedEarly, beforeConnect: false)
        case .failed: return fail(.reset, beforeConnect: false)
        }
        flush()
        submitWaiting()
        finishIfDone()
    }

    func scheduleFlush() {
        guard !flushScheduled, state == .ready else { return }
        flushScheduled = true
        loop.resumeLater(slot)
    }

    private func flush() {
        guard state == .ready else { return }
        if transport.flush(session) == .failed { fail(.reset, beforeConnect: false) }
    }

    private func finishIfDone() {
        guard state == .ready, transport.isDrained, session.isFinished else { return }
        if session.failure != nil {
            // The session ended on a protocol error, found by us or answered by nghttp2 with
            // GOAWAY (a peer whose first bytes are not a SETTINGS frame, e.g. an HTTP/1.1 server):
            // no stream still open on it will get an answer.
            fail(.malformedResponse, beforeConnect: false)
        } else {
            close()
        }
    }

    /// The connection broke: every exchange on it hears why (each counts the failure once).
    private func fail(_ failure: UpstreamFailure, beforeConnect: Bool) {
        if beforeConnect { worker.connectFailed(pool) }
        let affectedStreams = streams.removeAll()
        let affectedWaiting = waiting
        waiting.removeAll()
        close()
        for exchange in affectedWaiting { exchange.upstreamConnectFailed(failure) }
        for exchange in affectedStreams { exchange.upstreamConnectionFailed(failure) }
    }

    func close() {
        guard state != .closed else { return }
        state = .closed
        transport.release()
        pool.http2Connections.removeAll { $0 === self }
        loop.deregister(slot)
        Syscall.close(fd)
        pool.connectionClosed()
        worker.stats.upstreamOpen -= 1
        session.delegate = nil
        let orphans = waiting
        waiting.removeAll()
        for exchange in orphans { exchange.upstreamConnectFailed(.connectError) }
        // Streams the session never reported closed end here, not at their response timeout.
        let unfinished = streams.removeAll()
        for exchange in unfinished { exchange.upstreamConnectionFailed(.closedEarly) }
    }

    // MARK: HTTP2SessionDelegate

    func http2Session(_ session: HTTP2Session, didReceiveHeaders fields: UnsafeBufferPointer<HeaderField>,
                      kind: HTTP2HeaderBlockKind, stream: HTTP2StreamID, endStream: Bool) {
        guard let exchange = streams[stream.rawValue] else { return }
        switch kind {
        case .response: exchange.upstreamResponseHead(fields, endStream: endStream)
        case .trailers: exchange.upstreamTrailers(fields)
        case .informational, .request: break // 1xx are not relayed over HTTP/2
        }
    }

    func http2Session(_ session: HTTP2Session, didReceiveData bytes: UnsafeRawBufferPointer,
                      stream: HTTP2StreamID, endStream: Bool) {
        streams[stream.rawValue]?.upstreamData(bytes, endStream: endStream)
    }

    func http2Session(_ session: HTTP2Session, streamDidClose stream: HTTP2StreamID,
                      reason: HTTP2StreamCloseReason) {
        guard let exchange = streams.removeValue(for: stream.rawValue) else { return }
        if streams.isEmpty {
            idleSince = loop.now
            if retired {
                session.goAway(.noError, graceful: false)
                scheduleFlush()
            }
            loop.setTimer(slot, deadline: idleSince + (retired ? 0 : worker.timeouts.upstreamIdle.value))
        }
        exchange.upstreamStreamClosed(reason)
    }

    func http2Session(_ session: HTTP2Session, didReceiveGoAway lastStreamID: HTTP2StreamID,
                      errorCode: HTTP2ErrorCode) {
        // No new stream here; the pool opens another connection for the next exchanges.
        worker.stats.upstreamGoAways &+= 1
    }

    func http2Session(_ session: HTTP2Session, streamCanSendMore stream: HTTP2StreamID) {
        streams[stream.rawValue]?.upstreamCanSendMore()
    }
}

/// An `UpstreamFailure` as an `Error` (for `Result`).
struct UpstreamFailureError: Error {
    let failure: UpstreamFailure
    init(_ failure: UpstreamFailure) { self.failure = failure }
}
