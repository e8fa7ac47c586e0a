import DevmeshBytes
import DevmeshHTTP1
import DevmeshIO
import DevmeshRouting

extension HTTP1Session {
    /// Reads and parses the next request head; on a complete head, routes it and starts the
    /// exchange. Returns whether anything changed.
    func advanceHead() -> Bool {
        if let pending = buffer, !pending.isEmpty {
            if mayBeHTTP2 {
                switch HTTP2Preface.match(pending.validBytes) {
                case .complete:
                    switchToHTTP2()
                    return false
                case .prefix:
                    break // wait for the rest of the preface before deciding
                case .mismatch:
                    mayBeHTTP2 = false
                }
            }
            if !mayBeHTTP2, parsePendingHead() != .needMore {
                return true
            }
        }
        return readHeadBytes()
    }

    private func readHeadBytes() -> Bool {
        guard canRead else { return false }
        if buffer == nil { buffer = worker.buffers.take() }
        guard makeRoomForHead() else { return true }
        var current = buffer!
        let asked = current.freeSpace
        let result: IOResult<Int>
        do {
            result = try Syscall.read(fd, current.base + current.end, asked)
        } catch {
            close()
            return false
        }
        switch result {
        case .wouldBlock:
            canRead = false
            releaseBufferIfEmpty()
            return false
        case .done(0):
            // The client closed. Between requests that is the normal end of a keep-alive
            // connection; in the middle of a head it is an abandoned request.
            close()
            return false
        case .done(let count):
            if count < asked && !clientHalfClosed { canRead = false }
            current.end += count
            buffer = current
            if headStartedAt == 0 { headStartedAt = worker.loop.now }
            return true
        }
    }

    private enum HeadOutcome { case started, rejected, needMore }

    /// The first bytes were the HTTP/2 connection preface (h2c with prior knowledge, RFC 9113
    /// §3.3): an `HTTP2Downstream` takes over the socket, its registration and the bytes read.
    private func switchToHTTP2() {
        let connection = HTTP2Downstream(worker: worker, fd: fd, slot: slot, initialBytes: buffer)
        buffer = nil
        phase = .closed
        worker.loop.replaceHandler(slot, with: connection)
        worker.loop.setBatching(slot, true)
        worker.replaceSession(self, with: connection)
        connection.start()
        // A connection that sent its preface while the worker drains (during a handover's
        // grace) is drained as the others were: GOAWAY, finish its streams, close.
        if drainRequested { connection.drain() }
    }

    /// Makes sure the buffer has free space for the rest of a head: compacts a pipelined partial
    /// head to the front, or moves a head that outgrew a chunk into a large buffer. Returns false
    /// when the head cannot grow any more (answered with 431).
    private func makeRoomForHead() -> Bool {
        var current = buffer!
        guard current.freeSpace == 0 else { return true }
        let headroom = worker.buffers.headroom
        if current.start > headroom {
            let count = current.count
            (current.base + headroom).copyMemory(from: current.base + current.start, byteCount: count)
            current.start = headroom
            current.end = headroom + count
            headScanHint = 0
            buffer = current
            return true
        }
        if current.capacity < worker.buffers.largeSize {
            buffer = worker.buffers.enlarge(current)
            headScanHint = 0
            return true
        }
        reject(.headTooLarge)
        return false
    }

    private func parsePendingHead() -> HeadOutcome {
        let current = buffer!
        let limits = worker.http1Limits
        let headers = worker.requestHeaders
        switch RequestHeadParser.parse(current.validBytes, into: headers, limits: limits, scanFrom: &headScanHint) {
        case .incomplete:
            return .needMore
        case .invalid(let error):
            reject(error)
            return .rejected
        case .complete(let head):
            headScanHint = 0
            mayBeHTTP2 = false
            beginExchange(head)
            return .started
        }
    }

    /// Answers a malformed request and closes: after a framing error the connection's byte
    /// stream can no longer be trusted.
    func reject(_ error: HTTP1Error) {
        worker.stats.countRejected(error)
        respondLocally(status: Int(error.status), message: "malformed request (\(error.slug))", close: true)
    }

    /// Forwards a head as the original bytes minus its hop-by-hop lines (plus `inserting`), moved
    /// in place so the bytes after the head never move. Returns the head's new start offset.
    func rewriteHead(in buffer: IOBuffer, base: Int, headStart: Int, headLength: Int, headers: HeaderStorage,
                     hopByHopCount: Int, inserting: StaticString?) -> Int? {
        if hopByHopCount == 0 && inserting == nil { return base + headStart }
        let whole = UnsafeMutableRawBufferPointer(start: buffer.base, count: buffer.capacity)
        let extra = inserting.map { UnsafeRawBufferPointer(start: $0.utf8Start, count: $0.utf8CodeUnitCount) }
            ?? UnsafeRawBufferPointer(start: nil, count: 0)
        switch HeadRewriter.prepareForwarding(in: whole, base: base, headStart: headStart, headLength: headLength,
                                              lines: headers.lines, inserting: extra) {
        case .rewritten(let start): return start
        case .headroomTooSmall: return nil
        }
    }

    /// The request is over: its slot in `worker.requestsInFlight` is free again.
    func releaseRequestSlot() {
        guard holdsRequestSlot else { return }
        holdsRequestSlot = false
        worker.requestsInFlight -= 1
    }

    /// Routes a complete request head, rewrites it in place for the upstream, and starts
    /// acquiring an upstream connection.
    private func beginExchange(_ head: RequestHead) {
        let admitted = worker.requestsInFlight < worker.limits.maxRequestsPerWorker
        if admitted {
            worker.requestsInFlight += 1
            holdsRequestSlot = true
        }
        let snapshot = worker.snapshot
        var current = buffer!
        let headStart = current.start
        let headEnd = headStart + head.headLength
        let headers = worker.requestHeaders

        exchange = Exchange()
        exchange.method = head.method
        exchange.isIdempotent = head.isIdempotent
        exchange.clientVersionMinor = head.versionMinor
        exchange.clientKeepAlive = head.keepAlive && !clientHalfClosed
        exchange.upgradeRequested = head.upgrade
        exchange.startedAt = worker.loop.now
        exchange.lastProgressAt = worker.loop.now
        exchange.snapshotVersion = snapshot.version
        exchange.requestFramer = BodyFramer(request: head.framing, limits: worker.http1Limits)
        headStartedAt = 0
        // Until the head is rewritten for forwarding, a local answer consumes the request head
        // (and keeps pipelined bytes after it).
        current.start = headEnd
        buffer = current

        if !admitted {
            // Overload: answer now rather than queue (reliability.md F18). The answer closes the
            // connection, which is what frees the client's share of the worker.
            worker.stats.requestsShed &+= 1
            respondLocally(status: 503, message: "overloaded: too many requests in flight", close: true)
            return
        }
        if head.method == .connect {
            // A reverse proxy has no business opening tunnels to arbitrary authorities.
            respondLocally(status: 405, message: "CONNECT is not supported", close: true)
            return
        }

        // Service by Host (gateway mode), then the routing key.
        let fields = headers.fields
        let host = head.hostIndex >= 0 ? fields[head.hostIndex].value : UnsafeRawBufferPointer(start: nil, count: 0)
        guard let service = snapshot.table.service(forHost: host) else {
            let hostText = host.debugString
            respondLocally(status: 404, message: "no service for host \"\(hostText.prefix(256))\"",
                           close: head.framing != .none || !exchange.clientKeepAlive)
            return
        }
        let candidates = worker.candidates
        snapshot.table.extractor.extract(from: fields, into: candidates)
        let decision = snapshot.table.resolve(service: service, candidates: candidates)
        exchange.destination = Int32(decision.destination)
        exchange.isSandbox = decision.isSandbox
        if snapshot.table.destinations[decision.destination].upstreamProtocol == .h2c {
            // The head is still in the buffer untouched (translation reads it, nothing is moved).
            current.start = headStart
            buffer = current
            if worker.accessLog != nil {
                logRecord.capture(head: head, headers: headers, candidates: candidates,
                                  winningCandidate: decision.candidateIndex)
            }
            beginTranslatedExchange(head, destination: decision.destination, isSandbox: decision.isSandbox)
            return
        }
        if worker.accessLog != nil {
            logRecord.capture(head: head, headers: headers, candidates: candidates,
                              winningCandidate: decision.candidateIndex)
        }

        // Forward the head as it came, minus hop-by-hop lines (moved in place, body untouched).
        guard let newStart = rewriteHead(in: current, base: headStart, headStart: head.startLineOffset,
                                         headLength: head.headLength, headers: headers,
                                         hopByHopCount: head.hopByHopCount, inserting: nil) else {
            respondLocally(status: 500, message: "cannot rewrite request head", close: true)
            return
        }
        current.start = newStart
        buffer = current
        exchange.requestStart = newStart
        exchange.forwardStart = newStart
        exchange.forwardEnd = headEnd
        frameRequestBody(from: headEnd)
        guard phase != .respondingLocally else { return }

        exchange.endpointCursor = worker.roundRobin[Int(exchange.destination)]
        worker.roundRobin[Int(exchange.destination)] &+= 1
        acquireUpstream()
    }
}
