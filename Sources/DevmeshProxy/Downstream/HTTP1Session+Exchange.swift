import DevmeshHTTP1
import DevmeshIO

/// Moving bytes in both directions while an exchange is in flight. Request body bytes go
/// upstream as they were received (content-length or raw chunked framing); the framer only
/// finds where the request ends and rejects bad framing.
extension HTTP1Session {
    /// One pass over both directions; returns whether anything moved.
    func advanceExchange() -> Bool {
        guard let connection = upstream else { return false }
        var progressed = sendRequestBytes(connection)
        guard phase == .exchanging else { return true }
        progressed = readRequestBody() || progressed
        guard phase == .exchanging else { return true }
        progressed = advanceResponse(connection) || progressed
        guard phase == .exchanging else { return true }
        if exchange.responseFramingDone && exchange.responseForwardStart == exchange.responseForwardEnd
            && (exchange.requestComplete || exchange.downstreamMustClose) {
            finishExchange()
            return true
        }
        return progressed
    }

    /// Runs the request framer over newly buffered bytes from `offset`.
    func frameRequestBody(from offset: Int) {
        let current = buffer!
        guard !exchange.requestComplete else { return }
        let bytes = current.bytes(from: offset, to: current.end)
        switch exchange.requestFramer.consume(bytes) {
        case .needMore:
            exchange.forwardEnd = current.end
        case .end(let consumed):
            exchange.forwardEnd = offset + consumed
            exchange.requestComplete = true
        case .invalid(let error):
            requestFramingFailed(error)
        }
    }

    /// Bad framing inside a request body: answer 400 if nothing has been forwarded yet or no
    /// response started; the upstream connection (which may hold part of the request) is reset.
    private func requestFramingFailed(_ error: HTTP1Error) {
        if let connection = upstream {
            connection.close(abort: true)
            upstream = nil
        }
        if exchange.responseStarted {
            close(abort: true)
        } else {
            reject(error)
        }
    }

    private func sendRequestBytes(_ connection: UpstreamConnection) -> Bool {
        let pending = exchange.forwardEnd - exchange.forwardStart
        guard pending > 0, connection.canWrite, let current = buffer else { return false }
        let result: IOResult<Int>
        do {
            result = try Syscall.send(connection.fd, current.base + exchange.forwardStart, pending)
        } catch {
            // EPIPE/ECONNRESET on write: the upstream is gone.
            upstreamFailed(.reset)
            return true
        }
        switch result {
        case .wouldBlock:
            connection.canWrite = false
            return false
        case .done(let sent):
            if sent < pending { connection.canWrite = false }
            exchange.forwardStart += sent
            exchange.lastProgressAt = worker.loop.now
            if exchange.requestComplete && exchange.forwardStart == exchange.forwardEnd {
                exchange.requestSentAt = worker.loop.now
            }
            return true
        }
    }

    /// Reads more of the request body once everything framed so far has been sent (one buffer
    /// in flight per direction: a slow upstream stops us reading from the client).
    private func readRequestBody() -> Bool {
        guard !exchange.requestComplete, canRead, var current = buffer,
              exchange.forwardStart == exchange.forwardEnd else { return false }
        // Everything received was sent: recycle the buffer from the start.
        let headroom = worker.buffers.headroom
        current.start = headroom
        current.end = headroom
        exchange.forwardStart = headroom
        exchange.forwardEnd = headroom
        exchange.requestReplayable = false
        let asked = current.freeSpace
        let result: IOResult<Int>
        do {
            result = try Syscall.read(fd, current.base + current.end, asked)
        } catch {
            buffer = current
            abortExchange(clientGone: true)
            return true
        }
        buffer = current
        switch result {
        case .wouldBlock:
            canRead = false
            return false
        case .done(0):
            // The client stopped sending in the middle of its body: the request can never be
            // completed, so the upstream must not see it as complete either.
            abortExchange(clientGone: true)
            return true
        case .done(let count):
            if count < asked && !clientHalfClosed { canRead = false }
            current.end += count
            buffer = current
            exchange.lastProgressAt = worker.loop.now
            frameRequestBody(from: headroom)
            return true
        }
    }

    /// The exchange cannot continue (the client vanished, or a stall): reset the upstream
    /// connection and close the downstream one.
    func abortExchange(clientGone: Bool) {
        if phase == .exchanging || phase == .connecting || phase == .tunneling {
            finishAccessLog(status: exchange.status == 0 ? 499 : exchange.status, failure: nil)
        }
        if let connection = upstream {
            connection.close(abort: true)
            upstream = nil
        }
        close(abort: !clientGone)
    }
}
