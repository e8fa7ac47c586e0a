import DevmeshHTTP1
import DevmeshIO

/// The response direction: read from the upstream, parse the head (relaying interim 1xx heads),
/// rewrite it in place, and stream the body downstream as it came.
extension HTTP1Session {
    func advanceResponse(_ connection: UpstreamConnection) -> Bool {
        var progressed = false
        if exchange.responseForwardStart < exchange.responseForwardEnd {
            progressed = sendResponseBytes(connection)
            guard phase == .exchanging || phase == .tunneling else { return true }
        }
        if exchange.responseForwardStart == exchange.responseForwardEnd {
            // Everything framed so far is out: parse what is buffered, or read more.
            if !exchange.finalHeadReceived, let pending = connection.buffer, !pending.isEmpty,
               parseResponseHead(connection) {
                return true
            }
            if phase == .exchanging, !exchange.responseFramingDone {
                progressed = readResponse(connection) || progressed
            }
        }
        return progressed
    }

    private func sendResponseBytes(_ connection: UpstreamConnection) -> Bool {
        guard canWrite, let source = connection.buffer else { return false }
        let pending = exchange.responseForwardEnd - exchange.responseForwardStart
        let result: IOResult<Int>
        do {
            result = try Syscall.send(fd, source.base + exchange.responseForwardStart, pending)
        } catch {
            abortExchange(clientGone: true)
            return true
        }
        switch result {
        case .wouldBlock:
            canWrite = false
            return false
        case .done(let sent):
            if sent < pending { canWrite = false }
            exchange.responseForwardStart += sent
            exchange.responseBytesSent += sent
            exchange.lastProgressAt = worker.loop.now
            if exchange.responseForwardStart == exchange.responseForwardEnd {
                recycleResponseBuffer(connection)
            }
            return true
        }
    }

    /// When every received byte has been sent, the response buffer restarts at the headroom
    /// (or goes back to the pool once the response is complete).
    private func recycleResponseBuffer(_ connection: UpstreamConnection) {
        guard var source = connection.buffer, exchange.responseForwardEnd == source.end else { return }
        if exchange.responseFramingDone || exchange.switchingProtocols {
            if !exchange.switchingProtocols {
                worker.buffers.give(source)
                connection.buffer = nil
            }
            return
        }
        guard exchange.finalHeadReceived || source.start == source.end else { return }
        let headroom = worker.buffers.headroom
        source.start = headroom
        source.end = headroom
        connection.buffer = source
        exchange.responseForwardStart = headroom
        exchange.responseForwardEnd = headroom
    }

    private func readResponse(_ connection: UpstreamConnection) -> Bool {
        guard connection.canRead else { return false }
        if connection.buffer == nil { connection.buffer = worker.buffers.take() }
        var source = connection.buffer!
        if source.freeSpace == 0 {
            guard !exchange.finalHeadReceived else { return false }
            if source.capacity < worker.buffers.largeSize {
                source = worker.buffers.enlarge(source)
                connection.buffer = source
                exchange.responseScanHint = 0
            } else {
                upstreamFailed(.malformedResponse)
                return true
            }
        }
        let asked = source.freeSpace
        let result: IOResult<Int>
        do {
            result = try Syscall.read(connection.fd, source.base + source.end, asked)
        } catch {
            upstreamEnded(reset: true)
            return true
        }
        switch result {
        case .wouldBlock:
            connection.canRead = false
            return false
        case .done(0):
            connection.canRead = false
            upstreamEnded(reset: false)
            return true
        case .done(let count):
            if count < asked && !connection.peerClosed { connection.canRead = false }
            let newBytesStart = source.end
            source.end += count
            connection.buffer = source
            exchange.responseBytesReceived += count
            exchange.lastProgressAt = worker.loop.now
            if exchange.finalHeadReceived {
                frameResponseBody(connection, from: newBytesStart)
            }
            return true
        }
    }

    /// The upstream closed (FIN) or reset the connection.
    private func upstreamEnded(reset: Bool) {
        if exchange.finalHeadReceived, !reset, exchange.responseFramer.finishAtClose() == nil {
            // A close-delimited body ends here (RFC 9112 §6.3 rule 8).
            exchange.responseFramingDone = true
            exchange.upstreamReusable = false
            if let connection = upstream, exchange.responseForwardStart == exchange.responseForwardEnd {
                recycleResponseBuffer(connection)
            }
            return
        }
        // Before the head this may be the keep-alive race (replayed if safe); after it, the
        // response is truncated and the client must never take it for a complete one.
        upstreamFailed(reset ? .reset : .closedEarly)
    }

    /// Frames response body bytes `[offset, end)` and extends the forward window over them.
    private func frameResponseBody(_ connection: UpstreamConnection, from offset: Int) {
        guard var source = connection.buffer, !exchange.responseFramingDone else { return }
        switch exchange.responseFramer.consume(source.bytes(from: offset, to: source.end)) {
        case .needMore:
            exchange.responseForwardEnd = source.end
        case .end(let consumed):
            exchange.responseForwardEnd = offset + consumed
            exchange.responseFramingDone = true
            if offset + consumed < source.end {
                // Bytes after the end of the response that nobody asked for: the connection's
                // framing cannot be trusted any more.
                exchange.upstreamReusable = false
                source.end = offset + consumed
                connection.buffer = source
            }
        case .invalid:
            countFailure(.malformedResponse)
            if exchange.responseStarted {
                finishAccessLog(status: exchange.status, failure: .malformedResponse)
                close(abort: true)
            } else {
                upstreamFailed(.malformedResponse)
            }
        }
    }

    /// Parses a response head at the start of the upstream buffer. Interim 1xx heads are relayed
    /// to HTTP/1.1 clients (and dropped for HTTP/1.0 ones); a final head is rewritten and the body
    /// that follows it is framed. Returns whether anything changed.
    private func parseResponseHead(_ connection: UpstreamConnection) -> Bool {
        var source = connection.buffer!
        let headers = worker.responseHeaders
        let limits = worker.http1Limits
        let parsed = ResponseHeadParser.parse(source.validBytes, into: headers, limits: limits,
                                              requestMethod: exchange.method, scanFrom: &exchange.responseScanHint)
        switch parsed {
        case .incomplete:
            return false
        case .invalid:
            upstreamFailed(.malformedResponse)
            return true
        case .complete(let head):
            exchange.responseScanHint = 0
            let headStart = source.start
            let headEnd = headStart + head.headLength
            if head.isInterim {
                source.start = headEnd
                connection.buffer = source
                if exchange.clientVersionMinor >= 1 {
                    exchange.responseForwardStart = headStart
                    exchange.responseForwardEnd = headEnd
                }
                return true
            }
            if head.switchingProtocols && !exchange.upgradeRequested {
                upstreamFailed(.malformedResponse)
                return true
            }
            if exchange.clientVersionMinor == 0, case .chunked = head.framing {
                // We forwarded an HTTP/1.0 request; chunked framing is not allowed back.
                upstreamFailed(.malformedResponse)
                return true
            }
            exchange.finalHeadReceived = true
            exchange.status = Int(head.status)
            exchange.switchingProtocols = head.switchingProtocols
            exchange.upstreamReusable = head.keepAlive
            exchange.responseFramer = BodyFramer(response: head.framing, limits: limits)
            let closeDownstream = !exchange.clientKeepAlive || !exchange.requestComplete || drainRequested
                || head.framing == .untilClose
            exchange.downstreamMustClose = closeDownstream && !head.switchingProtocols
            let insert: StaticString? = head.switchingProtocols ? nil
                : (exchange.downstreamMustClose ? "connection: close\r\n"
                   : (exchange.clientVersionMinor == 0 ? "connection: keep-alive\r\n" : nil))
            guard let newStart = rewriteHead(in: source, base: headStart, headStart: 0, headLength: head.headLength,
                                             headers: headers, hopByHopCount: head.hopByHopCount,
                                             inserting: insert) else {
                upstreamFailed(.malformedResponse)
                return true
            }
            source.start = headEnd
            connection.buffer = source
            exchange.responseForwardStart = newStart
            exchange.responseForwardEnd = headEnd
            if head.switchingProtocols {
                beginTunnel(connection)
                return true
            }
            frameResponseBody(connection, from: headEnd)
            return true
        }
    }

    /// The response is out and the request fully read (or the connection closes anyway).
    func finishExchange() {
        guard let connection = upstream else { return }
        upstream = nil
        if let leftover = connection.buffer {
            worker.buffers.give(leftover)
            connection.buffer = nil
        }
        worker.stats.countRequest(sandbox: exchange.isSandbox, status: exchange.status)
        finishAccessLog(status: exchange.status, failure: nil)
        if exchange.upstreamReusable && exchange.requestComplete && !connection.peerClosed {
            connection.release(idleTimeoutMilliseconds: worker.timeouts.upstreamIdle.value,
                               maxIdle: worker.limits.upstreamMaxIdlePerEndpoint)
        } else {
            connection.close(abort: !exchange.requestComplete)
        }
        if exchange.downstreamMustClose || closesAfterExchangeForDrain() {
            close()
            return
        }
        // Keep-alive: whatever follows the request in the buffer is the next (pipelined) request.
        phase = .awaitingHead
        releaseRequestSlot()
        idleSince = worker.loop.now
        if var current = buffer {
            current.start = exchange.forwardEnd
            buffer = current
        }
        releaseBufferIfEmpty()
        if clientHalfClosed && buffer == nil {
            close()
        }
    }
}
