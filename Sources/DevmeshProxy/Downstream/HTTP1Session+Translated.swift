import DevmeshBytes
import DevmeshHTTP1
import DevmeshHTTP2
import DevmeshIO

/// An HTTP/1.1 request for an h2c destination. The session hands the exchange to a
/// `StreamExchange` (the same one HTTP/2 clients use, so pools, retries, deadlines and gRPC errors
/// work alike) and translates at both ends: the request head becomes an HTTP/2 header list and the
/// decoded body its DATA; the HTTP/2 response comes back as an HTTP/1.1 head with length or
/// chunked framing (trailers in the last chunk), or close-delimited for an HTTP/1.0 client.
///
/// Backpressure: the client is read only while the exchange holds less than
/// `StreamExchange.maxPendingRequestBytes`; response bytes are taken only into one output buffer.
struct TranslatedState {
    var exchange: StreamExchange?
    /// Response bytes, encoded, waiting for the socket.
    var out: IOBuffer?
    var framing = HTTP1Encoder.Framing.none
    var headWritten = false
    var responseDone = false
    var requestDone = false
    /// The exchange reported itself over (it may still have bytes in `out` to write).
    var exchangeOver = false
    var trailerBytes: IOBuffer?
}

extension HTTP1Session: ExchangeDownstream {
    /// Starts the translated exchange from a parsed, routed head (`buffer.start` is still the head).
    func beginTranslatedExchange(_ head: RequestHead, destination: Int, isSandbox: Bool) {
        var current = buffer!
        let headEnd = current.start + head.headLength
        let exchange = worker.takeStreamExchange()
        let block = exchange.requestHeaders
        let fields = worker.requestHeaders.fields
        let lines = worker.requestHeaders.lines
        block.append(name: ":method", value: head.methodBytes)
        block.append(name: ":scheme", value: "http")
        if head.hostIndex >= 0 { block.append(name: ":authority", value: fields[head.hostIndex].value) }
        block.append(name: ":path", value: head.target)
        for index in fields.indices where !lines[index].hopByHop {
            let field = fields[index]
            if lines[index].kind == .contentLength, case .contentLength = head.framing {
                block.append(name: "content-length", value: field.value)
                continue
            }
            let isTrailersTE = lines[index].kind == .te && ASCII.equalsCaseInsensitive(field.value, lowercased: "trailers")
            guard isTrailersTE || !HTTP1Encoder.isConnectionSpecific(field.name) else { continue }
            block.appendLowercasingName(name: field.name, value: field.value)
        }
        exchange.requestFramerForTranslation = BodyFramer(request: head.framing, limits: worker.http1Limits)
        current.start = headEnd
        buffer = current
        translated = TranslatedState()
        translated.exchange = exchange
        translated.requestDone = head.framing == .none
        phase = .translating
        exchange.beginTranslated(from: self, destination: destination, isSandbox: isSandbox,
                                 endStream: head.framing == .none)
        feedTranslatedRequest()
    }

    /// One pass: write response bytes, read and feed request bytes, finish when both are done.
    func advanceTranslated() -> Bool {
        var progressed = writeTranslatedOutput()
        guard phase == .translating else { return true }
        if !translated.requestDone, canRead, let exchange = translated.exchange,
           exchange.pendingRequestBytes < StreamExchange.maxPendingRequestBytes {
            progressed = readTranslatedRequest() || progressed
            guard phase == .translating else { return true }
        }
        if translated.responseDone && translated.out == nil {
            // The response is out: let go of the exchange (it finishes on its own once its upstream
            // stream closes), then take the next request or close.
            if let exchange = translated.exchange {
                translated.exchange = nil
                exchange.detachDownstream(completed: translated.requestDone)
            }
            finishTranslatedExchange()
            return true
        }
        if translated.exchangeOver && translated.out == nil {
            // The exchange ended without a complete response (it reset the client's side).
            abortTranslated()
            return true
        }
        return progressed
    }

    private func readTranslatedRequest() -> Bool {
        var current = buffer ?? worker.buffers.take()
        if current.isEmpty {
            current.start = worker.buffers.headroom
            current.end = current.start
        }
        let asked = current.freeSpace
        guard asked > 0 else {
            buffer = current
            return false
        }
        let result: IOResult<Int>
        do {
            result = try Syscall.read(fd, current.base + current.end, asked)
        } catch {
            buffer = current
            abortTranslated()
            return true
        }
        buffer = current
        switch result {
        case .wouldBlock:
            canRead = false
            return false
        case .done(0):
            abortTranslated()
            return true
        case .done(let count):
            if count < asked && !clientHalfClosed { canRead = false }
            current.end += count
            buffer = current
            feedTranslatedRequest()
            return true
        }
    }

    /// Decodes the buffered request body and hands it to the exchange.
    private func feedTranslatedRequest() {
        guard let exchange = translated.exchange else { return }
        while !translated.requestDone, var current = buffer, !current.isEmpty {
            switch exchange.requestFramerForTranslation.advance(current.validBytes) {
            case .data(let offset, let count):
                let bytes = current.bytes(from: current.start + offset, to: current.start + offset + count)
                current.start += offset + count
                buffer = current
                let ended = exchange.requestFramerForTranslation.isComplete
                if ended { translated.requestDone = true }
                exchange.requestData(bytes, endStream: ended && translated.trailerBytes == nil)
            case .trailers(let offset, let count):
                var collected = translated.trailerBytes ?? worker.buffers.take()
                let take = min(count, collected.freeSpace)
                (collected.base + collected.end).copyMemory(from: current.base + current.start + offset, byteCount: take)
                collected.end += take
                translated.trailerBytes = collected
                current.start += offset + count
                buffer = current
            case .end(let consumed):
                current.start += consumed
                buffer = current
                translated.requestDone = true
                if let trailers = translated.trailerBytes,
                   case .success(let count) = TrailerParser.parse(trailers.validBytes, into: worker.requestHeaders,
                                                                  limits: worker.http1Limits), count > 0 {
                    exchange.requestTrailers(worker.requestHeaders.fields)
                } else {
                    exchange.requestData(UnsafeRawBufferPointer(start: nil, count: 0), endStream: true)
                }
            case .needMore:
                current.start = current.end
                buffer = current
                return
            case .invalid:
                abortTranslated()
                return
            }
        }
    }

    // MARK: ExchangeDownstream (the response, encoded back into HTTP/1.1)

    func respond(_ stream: HTTP2StreamID, headers: UnsafeBufferPointer<HeaderField>, endStream: Bool) {
        var status = 200
        var length: UInt64?
        for field in headers {
            if field.name.count == 7, ASCII.equalsCaseInsensitive(field.name, lowercased: ":status") {
                status = Int(decimal(field.value) ?? 200)
            } else if field.name.count == 14, ASCII.equalsCaseInsensitive(field.name, lowercased: "content-length") {
                length = decimal(field.value)
            }
        }
        exchange.status = status
        let bodiless = status < 200 || status == 204 || status == 304 || exchange.method == .head
        if bodiless {
            translated.framing = .none
        } else if let length {
            translated.framing = .contentLength(length)
        } else if endStream {
            translated.framing = .contentLength(0)
        } else {
            translated.framing = exchange.clientVersionMinor >= 1 ? .chunked : .untilClose
        }
        let mustClose = !exchange.clientKeepAlive || drainRequested || !translated.requestDone
            || translated.framing == .untilClose
        exchange.downstreamMustClose = mustClose
        let connection: HTTP1Encoder.ConnectionField = mustClose ? .close
            : (exchange.clientVersionMinor == 0 ? .keepAlive : .none)
        var out = translated.out ?? freshOutput()
        guard let count = HTTP1Encoder.writeResponseHead(
            status: status, fields: headers, framing: translated.framing, connection: connection,
            into: UnsafeMutableRawBufferPointer(start: out.base + out.end, count: out.capacity - out.end)) else {
            worker.buffers.give(out)
            translated.out = nil
            abortTranslated()
            return
        }
        out.end += count
        translated.out = out
        translated.headWritten = true
        exchange.responseBytesSent += count
        if endStream || bodiless { markTranslatedResponseDone() }
        _ = writeTranslatedOutput()
    }

    func send(_ stream: HTTP2StreamID, _ bytes: UnsafeRawBufferPointer, endStream: Bool) -> HTTP2SendResult {
        guard translated.headWritten, !translated.responseDone else { return .streamClosed }
        var out = translated.out ?? freshOutput()
        var taken = 0
        switch translated.framing {
        case .chunked:
            let room = out.capacity - out.end - 24 - (endStream ? 5 : 0)
            taken = min(bytes.count, max(0, room))
            if taken > 0 {
                out.end += HTTP1Encoder.writeChunkPrefix(size: taken, into: UnsafeMutableRawBufferPointer(
                    start: out.base + out.end, count: out.capacity - out.end))!
                (out.base + out.end).copyMemory(from: bytes.baseAddress!, byteCount: taken)
                out.end += taken
                (out.base + out.end).copyMemory(from: HTTP1Encoder.chunkSuffix.utf8Start, byteCount: 2)
                out.end += 2
            }
            if endStream && taken == bytes.count {
                out.end += HTTP1Encoder.writeLastChunk(
                    trailers: UnsafeBufferPointer(start: nil, count: 0),
                    into: UnsafeMutableRawBufferPointer(start: out.base + out.end, count: out.capacity - out.end))!
            }
        case .none:
            taken = bytes.count // a bodiless response: drop
        default:
            taken = min(bytes.count, out.capacity - out.end)
            if taken > 0 {
                (out.base + out.end).copyMemory(from: bytes.baseAddress!, byteCount: taken)
                out.end += taken
            }
        }
        translated.out = out
        if endStream && taken == bytes.count { markTranslatedResponseDone() }
        _ = writeTranslatedOutput()
        return taken == bytes.count ? .accepted : .partial(taken)
    }

    func sendTrailers(_ stream: HTTP2StreamID, headers: UnsafeBufferPointer<HeaderField>) {
        guard translated.headWritten, !translated.responseDone else { return }
        markTranslatedResponseDone()
        // Only a chunked body can carry trailers in HTTP/1.1; otherwise they are dropped.
        guard case .chunked = translated.framing else { return }
        var out = translated.out ?? freshOutput()
        guard let count = HTTP1Encoder.writeLastChunk(
            trailers: headers,
            into: UnsafeMutableRawBufferPointer(start: out.base + out.end, count: out.capacity - out.end)) else {
            translated.out = out
            abortTranslated()
            return
        }
        out.end += count
        translated.out = out
        _ = writeTranslatedOutput()
    }

    func consumed(_ stream: HTTP2StreamID, byteCount: Int) {
        // The exchange copied the bytes when they were fed: the read buffer is already free. A
        // drained queue may let the client be read again.
        if phase == .translating, canRead { worker.loop.resumeLater(slot) }
    }

    func reset(_ stream: HTTP2StreamID, code: HTTP2ErrorCode) {
        abortTranslated()
    }

    func exchangeFinished(_ stream: HTTP2StreamID) {
        translated.exchange = nil
        translated.exchangeOver = true
        if phase == .translating { worker.loop.resumeLater(slot) }
    }

    // MARK: Helpers

    /// The exchange calls in from the upstream's turn; the next request or the close happens in
    /// this connection's own turn, so schedule one even when every byte went out at once.
    private func markTranslatedResponseDone() {
        translated.responseDone = true
        worker.loop.resumeLater(slot)
    }

    private func freshOutput() -> IOBuffer {
        var out = worker.buffers.take()
        out.start = 0
        out.end = 0
        return out
    }

    /// Writes encoded response bytes; tells the exchange when there is room again.
    private func writeTranslatedOutput() -> Bool {
        guard var out = translated.out, canWrite else { return false }
        guard !out.isEmpty else {
            worker.buffers.give(out)
            translated.out = nil
            return false
        }
        let result: IOResult<Int>
        do {
            result = try Syscall.send(fd, out.base + out.start, out.count)
        } catch {
            abortTranslated()
            return true
        }
        switch result {
        case .wouldBlock:
            canWrite = false
            return false
        case .done(let sent):
            out.start += sent
            exchange.lastProgressAt = worker.loop.now
            if out.isEmpty {
                worker.buffers.give(out)
                translated.out = nil
                translated.exchange?.downstreamCanSendMore()
            } else {
                canWrite = false
                translated.out = out
            }
            return true
        }
    }

    /// The exchange ended and its bytes are out: next request, or close.
    private func finishTranslatedExchange() {
        if let trailers = translated.trailerBytes { worker.buffers.give(trailers) }
        let mustClose = exchange.downstreamMustClose || !translated.responseDone || closesAfterExchangeForDrain()
        translated = TranslatedState()
        if mustClose {
            close(abort: false)
            return
        }
        phase = .awaitingHead
        releaseRequestSlot()
        idleSince = worker.loop.now
        releaseBufferIfEmpty()
    }

    /// The client or the exchange failed mid-way: drop everything.
    func abortTranslated() {
        if let exchange = translated.exchange {
            translated.exchange = nil
            exchange.detachDownstream(completed: false)
        }
        if let out = translated.out { worker.buffers.give(out) }
        if let trailers = translated.trailerBytes { worker.buffers.give(trailers) }
        translated = TranslatedState()
        close(abort: true)
    }

    private func decimal(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 19 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + UInt64(byte - 0x30)
        }
        return value
    }
}
