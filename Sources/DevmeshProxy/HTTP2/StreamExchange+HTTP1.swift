import DevmeshBytes
import DevmeshHTTP1
import DevmeshHTTP2
import DevmeshIO

/// The state of a stream exchange whose upstream speaks HTTP/1.1: the request is written from
/// the stream's fields (Host from `:authority`, chunked framing unless the length is known, the
/// request trailers in the last chunk) and the response is parsed and decoded back into an
/// HTTP/2 head, body and trailers.
struct H1LegState {
    /// Encoded request bytes not yet taken by the socket (head, chunk framing, body).
    var out: IOBuffer?
    var framing = HTTP1Encoder.Framing.none
    var headWritten = false
    var requestDone = false
    var responseScanHint = 0
    var finalHead = false
    var framer = BodyFramer(response: .none)
    var responseDone = false
    var reusable = true
    /// The trailer section of a chunked response, collected across reads.
    var trailerBytes: IOBuffer?
    /// Response bytes read on this connection (any: an interim head counts).
    var responseBytesReceived = 0
    /// The next connection must be a new one, not an idle one from the pool (a replay).
    var freshConnectionOnly = false

    mutating func reset(worker: Worker) {
        if let out { worker.buffers.give(out) }
        if let trailerBytes { worker.buffers.give(trailerBytes) }
        self = H1LegState()
    }
}

extension StreamExchange: UpstreamOwner {
    /// Takes an idle HTTP/1.1 connection of `pool`, or starts one. False when the pool is at its
    /// cap or the connect failed at once (the caller tries the next endpoint).
    func startHTTP1Leg(pool: UpstreamPool) -> Bool {
        if !h1.freshConnectionOnly, let idle = pool.popIdle() {
            idle.lend(to: self)
            leg = .h1(idle)
            h1Connected(idle)
            return true
        }
        if pool.openCount >= worker.limits.upstreamMaxConnectionsPerEndpoint {
            recordConnectFailure(.poolExhausted)
            return false
        }
        switch UpstreamConnection.connect(worker: worker, pool: pool, owner: self,
                                          timeoutMilliseconds: worker.timeouts.upstreamConnect.value) {
        case .connected(let connection):
            leg = .h1(connection)
            h1Connected(connection)
            return true
        case .pending(let connection):
            leg = .h1(connection)
            return true
        case .failed(let failure):
            countFailure(failure)
            recordConnectFailure(failure)
            return false
        }
    }

    // MARK: UpstreamOwner

    func upstreamConnected(_ connection: UpstreamConnection) {
        guard case .h1(let current) = leg, current === connection else { return }
        h1Connected(connection)
    }

    func upstreamConnectFailed(_ connection: UpstreamConnection, _ failure: UpstreamFailure) {
        guard case .h1(let current) = leg, current === connection else { return }
        upstreamConnectFailed(failure)
    }

    func upstreamEvents(_ connection: UpstreamConnection, _ events: UInt32) {
        guard case .h1(let current) = leg, current === connection else { return }
        h1Drive(connection)
    }

    func upstreamTimer(_ connection: UpstreamConnection) {}

    // MARK: The request

    private func h1Connected(_ connection: UpstreamConnection) {
        if let length = contentLength {
            h1.framing = length == 0 ? .none : .contentLength(length)
        } else {
            h1.framing = requestEndsWithHead ? .none : .chunked
        }
        var out = buffers.take()
        out.start = 0
        out.end = 0
        let room = UnsafeMutableRawBufferPointer(start: out.base, count: out.capacity)
        guard let count = HTTP1Encoder.writeRequestHead(method: method, target: path, authority: authority,
                                                        fields: requestHeaders.fields, framing: h1.framing,
                                                        into: room) else {
            buffers.give(out)
            h1Abort()
            upstreamBroke(.malformedResponse)
            return
        }
        out.end = count
        h1.out = out
        h1.headWritten = true
        if requestEndsWithHead { h1.requestDone = true }
        flushRequest()
        h1Drive(connection)
    }

    /// Takes request body bytes into the output buffer, framed; returns how many it took.
    func h1OfferRequestBytes(_ bytes: UnsafeRawBufferPointer, endStream: Bool) -> Int {
        guard h1.headWritten, var out = h1.out ?? Optional(buffers.take()) else { return 0 }
        if h1.out == nil {
            out.start = 0
            out.end = 0
        }
        var taken = 0
        switch h1.framing {
        case .chunked:
            // A chunk: hex size line, the bytes, CRLF (at most 16 hex digits + 4 bytes of framing).
            let room = out.capacity - out.end - 24
            taken = min(bytes.count, max(0, room))
            if taken > 0 {
                let prefix = HTTP1Encoder.writeChunkPrefix(size: taken, into: UnsafeMutableRawBufferPointer(
                    start: out.base + out.end, count: out.capacity - out.end))!
                out.end += prefix
                (out.base + out.end).copyMemory(from: bytes.baseAddress!, byteCount: taken)
                out.end += taken
                (out.base + out.end).copyMemory(from: HTTP1Encoder.chunkSuffix.utf8Start, byteCount: 2)
                out.end += 2
            }
        default:
            taken = min(bytes.count, out.capacity - out.end)
            if taken > 0 {
                (out.base + out.end).copyMemory(from: bytes.baseAddress!, byteCount: taken)
                out.end += taken
            }
        }
        h1.out = out
        if case .h1(let connection) = leg { h1SendOut(connection) }
        return taken
    }

    /// The client's body ended: the last chunk (with its trailers) for a chunked request.
    func h1FinishRequest() {
        guard h1.headWritten, !h1.requestDone else { return }
        if case .chunked = h1.framing {
            var out = h1.out ?? buffers.take()
            if h1.out == nil {
                out.start = 0
                out.end = 0
            }
            guard let count = HTTP1Encoder.writeLastChunk(
                trailers: requestTrailerBlock.fields,
                into: UnsafeMutableRawBufferPointer(start: out.base + out.end, count: out.capacity - out.end)) else {
                // No room yet: the end is written once the buffer drained (flushRequest runs again).
                h1.out = out
                return
            }
            out.end += count
            h1.out = out
        }
        h1.requestDone = true
        if case .h1(let connection) = leg { h1SendOut(connection) }
    }

    private func h1SendOut(_ connection: UpstreamConnection) {
        guard var out = h1.out, !out.isEmpty, connection.canWrite else { return }
        let result: IOResult<Int>
        do {
            result = try Syscall.send(connection.fd, out.base + out.start, out.count)
        } catch {
            h1Broke(connection, .reset)
            return
        }
        switch result {
        case .wouldBlock:
            connection.canWrite = false
        case .done(let sent):
            out.start += sent
            if sent < out.count { connection.canWrite = false }
            if out.isEmpty {
                buffers.give(out)
                h1.out = nil
            } else {
                h1.out = out
            }
        }
    }

    // MARK: The response

    private func h1Drive(_ connection: UpstreamConnection) {
        h1SendOut(connection)
        if h1.out == nil { flushRequest() }
        guard case .h1 = leg else { return }
        // Read only while the client's stream keeps up (one buffer of response in flight).
        while connection.canRead && pendingResponseIsEmpty && !h1.responseDone {
            if connection.buffer == nil { connection.buffer = buffers.take() }
            var source = connection.buffer!
            if source.isEmpty {
                source.start = buffers.headroom
                source.end = source.start
            }
            guard source.freeSpace > 0 else {
                h1Abort()
                upstreamBroke(.malformedResponse)
                return
            }
            let asked = source.freeSpace
            let result: IOResult<Int>
            do {
                result = try Syscall.read(connection.fd, source.base + source.end, asked)
            } catch {
                h1Ended(connection, reset: true)
                return
            }
            switch result {
            case .wouldBlock:
                connection.canRead = false
            case .done(0):
                connection.canRead = false
                h1Ended(connection, reset: false)
                return
            case .done(let count):
                if count < asked && !connection.peerClosed { connection.canRead = false }
                h1.responseBytesReceived += count
                source.end += count
                connection.buffer = source
                h1Process(connection)
                guard case .h1 = leg else { return }
            }
        }
    }

    private var pendingResponseIsEmpty: Bool { pendingResponseCount == 0 }

    /// Parses the head, then decodes body steps, from the connection's buffer.
    private func h1Process(_ connection: UpstreamConnection) {
        var source = connection.buffer!
        if !h1.finalHead {
            let parsed = ResponseHeadParser.parse(source.validBytes, into: worker.responseHeaders,
                                                  limits: worker.http1Limits, requestMethod: HTTPMethod(method),
                                                  scanFrom: &h1.responseScanHint)
            switch parsed {
            case .incomplete:
                return
            case .invalid:
                h1Abort()
                upstreamBroke(.malformedResponse)
                return
            case .complete(let head):
                h1.responseScanHint = 0
                source.start += head.headLength
                connection.buffer = source
                if head.isInterim { return h1Process(connection) }
                guard !head.switchingProtocols else {
                    h1Abort()
                    upstreamBroke(.malformedResponse)
                    return
                }
                h1.finalHead = true
                h1.reusable = head.keepAlive
                h1.framer = BodyFramer(response: head.framing, limits: worker.http1Limits)
                h1SendResponseHead(status: Int(head.status), framing: head.framing)
                if case .none = head.framing { return h1ResponseComplete(connection) }
            }
        }
        // Body steps.
        while !h1.responseDone {
            // A length-framed body completes with its last data step, before any `.end`.
            if h1.framer.isComplete {
                if !connection.buffer!.isEmpty { h1.reusable = false }
                return h1ResponseComplete(connection)
            }
            source = connection.buffer!
            guard !source.isEmpty else { return }
            switch h1.framer.advance(source.validBytes) {
            case .data(let offset, let count):
                source.start += offset
                connection.buffer = source
                let bytes = UnsafeRawBufferPointer(start: source.base + source.start, count: count)
                let taken = offerResponseBytes(bytes, endStream: false)
                if taken < count {
                    _ = queueResponse(UnsafeRawBufferPointer(rebasing: bytes[taken...]))
                }
                source.start += count
                connection.buffer = source
            case .trailers(let offset, let count):
                h1CollectTrailers(source.bytes(from: source.start + offset, to: source.start + offset + count))
                source.start += offset + count
                connection.buffer = source
            case .end(let consumed):
                source.start += consumed
                connection.buffer = source
                if !source.isEmpty { h1.reusable = false }
                return h1ResponseComplete(connection)
            case .needMore:
                source.start = source.end
                connection.buffer = source
                return
            case .invalid:
                h1Abort()
                upstreamBroke(.malformedResponse)
                return
            }
        }
    }

    /// The HTTP/1.1 head as an HTTP/2 response head: `:status`, then the fields lower-cased,
    /// without connection-specific ones (content-length kept for a length-framed body) and
    /// without the fields the `Connection` header names, which the parser marked hop-by-hop
    /// (RFC 9110 §7.6.1: a proxy removes them before forwarding; RFC 9113 §8.2.2: they have no
    /// place in HTTP/2).
    private func h1SendResponseHead(status: Int, framing: ResponseBodyFraming) {
        guard let downstream, downstreamOpenForResponse else { return }
        self.status = status
        let block = responseTrailerBlock
        block.removeAll()
        var statusText = Array(String(status).utf8)
        statusText.withUnsafeBytes { block.append(name: ":status", value: $0) }
        statusText.removeAll()
        let headers = worker.responseHeaders
        let lines = headers.lines
        for (index, field) in headers.fields.enumerated() where !lines[index].hopByHop {
            let kind = KnownHeader(name: field.name)
            if kind == .contentLength, case .contentLength = framing {
                block.append(name: "content-length", value: field.value)
                continue
            }
            guard !HTTP1Encoder.isConnectionSpecific(field.name) else { continue }
            block.appendLowercasingName(name: field.name, value: field.value)
        }
        markResponseHeadSent(endStream: framing == .none)
        downstream.respond(downstreamStream, headers: block.fields, endStream: framing == .none)
        block.removeAll()
    }

    private func h1CollectTrailers(_ bytes: UnsafeRawBufferPointer) {
        var collected = h1.trailerBytes ?? buffers.take()
        let take = min(bytes.count, collected.freeSpace)
        (collected.base + collected.end).copyMemory(from: bytes.baseAddress!, byteCount: take)
        collected.end += take
        h1.trailerBytes = collected
    }

    private func h1ResponseComplete(_ connection: UpstreamConnection) {
        h1.responseDone = true
        if let trailers = h1.trailerBytes, !trailers.isEmpty {
            if case .success(let count) = TrailerParser.parse(trailers.validBytes, into: worker.responseHeaders,
                                                              limits: worker.http1Limits), count > 0 {
                responseTrailerBlock.removeAll()
                for field in worker.responseHeaders.fields where !HTTP1Encoder.isConnectionSpecific(field.name) {
                    responseTrailerBlock.appendLowercasingName(name: field.name, value: field.value)
                }
                queueTrailers()
            }
        }
        finishResponseBody()
        // The connection goes back to its pool if both messages ended cleanly.
        if let buffer = connection.buffer {
            buffers.give(buffer)
            connection.buffer = nil
        }
        if h1.reusable && h1.requestDone && h1.out == nil && !connection.peerClosed {
            connection.release(idleTimeoutMilliseconds: worker.timeouts.upstreamIdle.value,
                               maxIdle: worker.limits.upstreamMaxIdlePerEndpoint)
        } else {
            connection.close(abort: !h1.requestDone)
        }
        h1LegEnded()
    }

    /// The upstream closed or reset the connection.
    private func h1Ended(_ connection: UpstreamConnection, reset: Bool) {
        if h1.finalHead, !reset, h1.framer.finishAtClose() == nil {
            h1.reusable = false
            return h1ResponseComplete(connection)
        }
        h1Broke(connection, reset ? .reset : .closedEarly)
    }

    /// The connection failed under the request. On a pooled connection, before any response
    /// byte, this is the keep-alive race (the upstream closed it as we reused it): an idempotent
    /// request without a body is sent once more on a fresh connection, as an HTTP/1.1 client's
    /// would be. Anything else fails the exchange.
    private func h1Broke(_ connection: UpstreamConnection, _ failure: UpstreamFailure) {
        let raced = connection.isReused && h1.responseBytesReceived == 0 && !h1.finalHead
            && requestEndsWithHead && HTTPMethod(method).isIdempotent
        h1Abort()
        if raced && replayOnFreshConnection(after: failure) { return }
        upstreamBroke(failure)
    }

    /// Bytes queued for the client were sent: read more of the response.
    func h1ResponseBytesForwarded(_ count: Int) {
        guard case .h1(let connection) = leg, pendingResponseIsEmpty else { return }
        h1Drive(connection)
    }

    /// Drops the HTTP/1.1 connection (the exchange failed or the client went away).
    func h1Abort() {
        guard case .h1(let connection) = leg else { return }
        connection.close(abort: true)
        h1LegEnded()
    }
}
