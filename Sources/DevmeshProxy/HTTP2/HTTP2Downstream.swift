import DevmeshBytes
import DevmeshHTTP2
import DevmeshIO

/// A client's h2c connection: the socket on one side, an `HTTP2Session` (server role) on the
/// other, and one `StreamExchange` per open stream. Every stream is routed on its own.
///
/// I/O follows the HTTP/1.1 session's rules: edge-triggered readiness, read into a pooled chunk
/// (given back as soon as the session has consumed it: nghttp2 keeps partial frames itself),
/// and output produced into one pooled chunk per loop turn, written with one `send`; what the
/// kernel does not take waits for the writable edge, and nothing more is produced meanwhile
/// (the session's bounded queues then push back on the streams).
final class HTTP2Downstream: EventHandler, HTTP2SessionDelegate, DownstreamConnection {
    unowned(unsafe) let worker: Worker
    let fd: Int32
    let slot: Slot
    var registryIndex = -1
    let session: HTTP2Session
    /// Open streams and their exchanges.
    private var exchanges: [Int32: StreamExchange] = [:]
    private var output: IOBuffer?
    private var canRead = true
    private var canWrite = true
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
        self.fd = fd
        self.slot = slot
        self.initialBytes = initialBytes
        session = HTTP2Session(role: .server, settings: worker.http2Settings, bufferPool: worker.http2Buffers)
        lastActivity = worker.loop.now
        session.delegate = self
        exchanges.reserveCapacity(worker.http2Settings.maxConcurrentStreams)
    }

    /// Takes over the registration of an HTTP/1.1 session whose first bytes were the preface.
    func start() {
        worker.stats.http2Connections &+= 1
        if let bytes = initialBytes {
            initialBytes = nil
            feed(bytes.validBytes)
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
        if events & (EventLoop.Events.readable | EventLoop.Events.hangUp | EventLoop.Events.error) != 0 {
            canRead = true
        }
        if events & EventLoop.Events.writable != 0 { canWrite = true }
        drive()
    }

    func handleTimer() {
        let now = worker.loop.now
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
        if let armed = worker.loop.timerDeadline(slot), armed <= deadline { return }
        worker.loop.setTimer(slot, deadline: deadline)
    }

    /// Reads what the socket has, feeds the session, writes what it produced.
    private func drive() {
        while canRead && !closed && session.wantsRead {
            var chunk = worker.buffers.take()
            let asked = chunk.capacity - chunk.end
            let result: IOResult<Int>
            do {
                result = try Syscall.read(fd, chunk.base + chunk.end, asked)
            } catch {
                worker.buffers.give(chunk)
                close()
                return
            }
            switch result {
            case .wouldBlock:
                canRead = false
                worker.buffers.give(chunk)
            case .done(0):
                worker.buffers.give(chunk)
                close()
                return
            case .done(let count):
                chunk.end += count
                feed(chunk.validBytes)
                worker.buffers.give(chunk)
                if count < asked { canRead = false }
            }
        }
        flush()
        finishIfDone()
        armTimer()
    }

    private func feed(_ bytes: UnsafeRawBufferPointer) {
        lastActivity = worker.loop.now
        if case .failed(let error) = session.receive(bytes, now: worker.loop.now) {
            worker.stats.countHTTP2Failure(error)
        }
    }

    /// Asks for a flush at the end of this loop turn (from another connection's events).
    func scheduleFlush() {
        guard !flushScheduled, !closed else { return }
        flushScheduled = true
        worker.loop.resumeLater(slot)
    }

    /// Writes pending output, then whatever the session produces, until the kernel stops taking it.
    func flush() {
        guard !closed else { return }
        while canWrite {
            if output == nil {
                guard session.wantsWrite else { return }
                var chunk = worker.buffers.take()
                chunk.start = 0
                chunk.end = session.produce(into: UnsafeMutableRawBufferPointer(start: chunk.base, count: chunk.capacity))
                guard chunk.end > 0 else {
                    worker.buffers.give(chunk)
                    return
                }
                output = chunk
            }
            var pending = output!
            let result: IOResult<Int>
            do {
                result = try Syscall.send(fd, pending.base + pending.start, pending.count)
            } catch {
                close()
                return
            }
            switch result {
            case .wouldBlock:
                canWrite = false
                return
            case .done(let sent):
                pending.start += sent
                if pending.isEmpty {
                    worker.buffers.give(pending)
                    output = nil
                } else {
                    output = pending
                    canWrite = false
                }
            }
        }
    }

    private func finishIfDone() {
        guard !closed, !lingering, output == nil, session.isFinished else { return }
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
        closeAt = worker.loop.now + Self.goAwayLingerMilliseconds
        Syscall.shutdownWrite(fd)
        for (_, exchange) in exchanges { exchange.downstreamClosed() }
        exchanges.removeAll()
        armTimer()
    }

    func drain() {
        guard !draining else { return }
        draining = true
        drainStartedAt = worker.loop.now
        session.goAway(.noError, graceful: true)
        flush()
        finishIfDone()
        armTimer()
    }

    func close() {
        guard !closed else { return }
        closed = true
        worker.stats.add(session.counters)
        for (_, exchange) in exchanges { exchange.downstreamClosed() }
        exchanges.removeAll()
        if let output {
            worker.buffers.give(output)
            self.output = nil
        }
        if let initialBytes {
            worker.buffers.give(initialBytes)
            self.initialBytes = nil
        }
        worker.loop.deregister(slot)
        Syscall.close(fd)
        session.delegate = nil
        worker.sessionClosed(self)
    }

    // MARK: Streams, as the exchanges see them

    func respond(_ stream: HTTP2StreamID, headers: UnsafeBufferPointer<HeaderField>, endStream: Bool) {
        session.submitResponse(stream, headers: headers, endStream: endStream)
        scheduleFlush()
    }

    func send(_ stream: HTTP2StreamID, _ bytes: UnsafeRawBufferPointer, endStream: Bool) -> HTTP2SendResult {
        let result = session.submitData(stream, bytes, endStream: endStream)
        scheduleFlush()
        return result
    }

    func sendTrailers(_ stream: HTTP2StreamID, headers: UnsafeBufferPointer<HeaderField>) {
        session.submitTrailers(stream, headers: headers)
        scheduleFlush()
    }

    func consumed(_ stream: HTTP2StreamID, byteCount: Int) {
        session.consume(stream, byteCount: byteCount)
        scheduleFlush()
    }

    func reset(_ stream: HTTP2StreamID, code: HTTP2ErrorCode) {
        session.resetStream(stream, code: code)
        scheduleFlush()
    }

    /// The exchange of `stream` is over on both sides.
    func exchangeFinished(_ stream: HTTP2StreamID) {
        exchanges.removeValue(forKey: stream.rawValue)
    }

    // MARK: HTTP2SessionDelegate

    func http2Session(_ session: HTTP2Session, didReceiveHeaders fields: UnsafeBufferPointer<HeaderField>,
                      kind: HTTP2HeaderBlockKind, stream: HTTP2StreamID, endStream: Bool) {
        switch kind {
        case .request:
            let exchange = worker.takeStreamExchange()
            exchanges[stream.rawValue] = exchange
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
        guard let exchange = exchanges.removeValue(forKey: stream.rawValue) else { return }
        exchange.downstreamStreamClosed(reason)
    }

    func http2Session(_ session: HTTP2Session, streamCanSendMore stream: HTTP2StreamID) {
        exchanges[stream.rawValue]?.downstreamCanSendMore()
    }
}
