import DevmeshBytes
import DevmeshHTTP1
import DevmeshHTTP2
import DevmeshIO
import DevmeshRouting

/// One request/response exchange of an HTTP/2 client stream, routed on its own by its headers.
///
/// ```
/// client stream ─► begin (route) ─► upstream leg ─► response head ─► data … ─► end / trailers
///      │                              │  h2c: a stream on a shared HTTP2UpstreamConnection
///      │                              │  http1: a pooled UpstreamConnection, translated
///      └─ reset ──► cancel upstream   └─ failure before any response byte: devmesh answers
///                                        (gRPC: trailers-only with grpc-status), after: reset
/// ```
///
/// Flow control is tied to the other side's progress in both directions: body bytes are taken
/// from one session (`consume` opens its window) only when the other accepted them; what it could
/// not take yet waits in a bounded `ByteQueue` and is offered again when the other side says it
/// can send more.
///
/// Objects are pooled per worker (`Worker.takeStreamExchange`), so a stream allocates nothing in
/// steady state: `reset()` returns one to its initial state.
final class StreamExchange: EventHandler {
    enum Leg {
        case none
        /// A stream was asked for on this connection (connecting, or waiting to be opened).
        case h2Pending(HTTP2UpstreamConnection)
        case h2(HTTP2UpstreamConnection, HTTP2StreamID)
        case h1(UpstreamConnection)
        case done
    }

    unowned(unsafe) let worker: Worker
    /// The worker's loop and buffer pool, held here as strong constants: reached through the
    /// `unowned(unsafe)` worker, every use of one cost a retain/release pair (the compiler cannot
    /// assume the worker alive across the call), about 20 pairs per gRPC call.
    let loop: EventLoop
    let buffers: BufferPool
    /// The worker's routing-key scratch (a constant of the worker), for the same reason.
    let candidates: RoutingKeyCandidates
    /// Between `begin` and the return to the pool. Guards against finishing twice (several paths
    /// may find both sides done).
    private var active = false
    private(set) var downstream: (any ExchangeDownstream)?
    private(set) var downstreamStream = HTTP2StreamID(0)
    /// The client's stream still exists (not reported closed).
    private var downstreamOpen = false

    // The request.
    let requestHeaders = HeaderBlock(byteCapacity: 512, fieldCapacity: 16)
    let requestTrailerBlock = HeaderBlock(byteCapacity: 128, fieldCapacity: 4)
    private(set) var requestEndsWithHead = false
    private(set) var requestEnded = false
    /// The end of the request (END_STREAM, trailers, or the last chunk) was handed to the upstream.
    private var upstreamRequestEnded = false
    private var hasRequestTrailers = false
    private(set) var isGRPC = false
    private var pendingRequest = ByteQueue()
    var method: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    var path: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    var authority: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    var contentLength: UInt64?
    /// The request body framing of an HTTP/1.1 client (translated exchanges only).
    var requestFramerForTranslation = BodyFramer(request: .none)

    // Where it goes.
    private var snapshotVersion: UInt64 = 0
    private var destination = -1
    private var isSandbox = false
    private var usedFallback = false
    private var endpointCursor: UInt32 = 0
    private var endpointsTried = 0
    private var lastFailure: UpstreamFailure?
    var leg = Leg.none
    private var retriedRefused = false
    /// The client spoke HTTP/1.1 (its session routed it here because the destination is h2c).
    private var clientIsHTTP1 = false
    /// A refused stream is to be sent again on the next loop pass (`retryOnNextPass`).
    private var retryPending = false
    /// The HTTP/1.1 leg's state (a translated exchange).
    var h1 = H1LegState()

    // The response.
    private(set) var responseHeadSent = false
    private var responseEnded = false
    private var pendingResponse = ByteQueue()
    /// END_STREAM (or trailers) waiting behind `pendingResponse`.
    private var pendingResponseEnd = false
    let responseTrailerBlock = HeaderBlock(byteCapacity: 128, fieldCapacity: 4)
    private var pendingTrailers = false
    var status = 0

    // Deadlines.
    private var timerSlot: Slot = .invalid
    private var callDeadline: Int64 = 0
    private var requestSentAt: Int64 = 0
    private var lastProgressAt: Int64 = 0

    init(worker: Worker) {
        self.worker = worker
        loop = worker.loop
        buffers = worker.buffers
        candidates = worker.candidates
    }

    /// Returns the object to its initial state (for the worker's pool).
    func reset() {
        downstream = nil
        downstreamOpen = false
        requestHeaders.removeAll()
        requestTrailerBlock.removeAll()
        responseTrailerBlock.removeAll()
        requestEndsWithHead = false
        requestEnded = false
        upstreamRequestEnded = false
        hasRequestTrailers = false
        isGRPC = false
        pendingRequest.removeAll(pool: buffers)
        pendingResponse.removeAll(pool: buffers)
        contentLength = nil
        destination = -1
        isSandbox = false
        usedFallback = false
        endpointsTried = 0
        lastFailure = nil
        leg = .none
        retriedRefused = false
        clientIsHTTP1 = false
        retryPending = false
        h1.reset(worker: worker)
        responseHeadSent = false
        responseEnded = false
        pendingResponseEnd = false
        pendingTrailers = false
        status = 0
        callDeadline = 0
        requestSentAt = 0
    }

    // MARK: The client's side

    /// An HTTP/1.1 request routed by its session to an h2c destination: the head arrives in HTTP/2
    /// form (`requestHeaders` already filled by the session), the body through `requestData`.
    func beginTranslated(from session: any ExchangeDownstream, destination: Int, isSandbox: Bool,
                         endStream: Bool) {
        downstream = session
        active = true
        downstreamStream = HTTP2StreamID(1)
        downstreamOpen = true
        requestEndsWithHead = endStream
        requestEnded = endStream
        lastProgressAt = loop.now
        snapshotVersion = worker.snapshot.version
        self.destination = destination
        self.isSandbox = isSandbox
        scanRequestHead()
        endpointCursor = worker.nextRoundRobin(destination: destination)
        armTimer()
        clientIsHTTP1 = true
        acquireUpstream()
    }

    /// Request body bytes this exchange holds without the upstream having taken them; the HTTP/1.1
    /// session stops reading its client above `maxPendingRequestBytes`.
    var pendingRequestBytes: Int { pendingRequest.count }
    static let maxPendingRequestBytes = 64 * 1024

    func begin(downstream: HTTP2Downstream, stream: HTTP2StreamID, fields: UnsafeBufferPointer<HeaderField>,
               endStream: Bool) {
        self.downstream = downstream
        active = true
        downstreamStream = stream
        downstreamOpen = true
        requestEndsWithHead = endStream
        requestEnded = endStream
        lastProgressAt = loop.now
        let snapshot = worker.snapshot
        snapshotVersion = snapshot.version

        // Own a copy of the head (it lives in nghttp2's memory only during this call).
        requestHeaders.append(contentsOf: fields)
        scanRequestHead()

        let table = snapshot.table
        guard let service = table.service(forHost: authority) else {
            respondLocally(.noService, message: "no service for host \"\(authority.debugString.prefix(256))\"")
            return
        }
        table.extractor.extract(from: requestHeaders.fields, into: candidates)
        let decision = table.resolve(service: service, candidates: candidates)
        destination = decision.destination
        isSandbox = decision.isSandbox
        endpointCursor = worker.nextRoundRobin(destination: destination)
        armTimer()
        acquireUpstream()
    }

    /// Picks out of `requestHeaders` what routing and translation need: the pseudo-headers, gRPC,
    /// its deadline, the body length. The names are lower case (the session rejects any other in an
    /// HTTP/2 request, and the HTTP/1.1 translation lower-cases them), so they are compared
    /// exactly, a word at a time.
    private func scanRequestHead() {
        var host = UnsafeRawBufferPointer(start: nil, count: 0)
        var grpcTimeout: Int64?
        for field in requestHeaders.fields {
            switch field.name.count {
            case 4 where ASCII.equalsExactly(field.name, "host"):
                host = field.value
            case 5 where ASCII.equalsExactly(field.name, ":path"):
                path = field.value
            case 7 where ASCII.equalsExactly(field.name, ":method"):
                method = field.value
            case 10 where ASCII.equalsExactly(field.name, ":authority"):
                authority = field.value
            case 12 where ASCII.equalsExactly(field.name, "content-type"):
                isGRPC = GRPC.isGRPCContentType(field.value)
            case 12 where ASCII.equalsExactly(field.name, "grpc-timeout"):
                grpcTimeout = GRPC.parseTimeoutMilliseconds(field.value)
            case 14 where ASCII.equalsExactly(field.name, "content-length"):
                contentLength = parseDecimal(field.value)
            default:
                break
            }
        }
        if authority.isEmpty { authority = host }
        if let grpcTimeout { callDeadline = loop.now + max(grpcTimeout, 1) }
    }

    func requestData(_ bytes: UnsafeRawBufferPointer, endStream: Bool) {
        if endStream { requestEnded = true }
        lastProgressAt = loop.now
        // Bytes already queued go first; only an empty queue lets new bytes straight through.
        var taken = 0
        if pendingRequest.isEmpty, !bytes.isEmpty {
            taken = offerRequestBytes(bytes, endStream: endStream && !hasRequestTrailers)
        }
        if taken < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[taken...])
            let queued = pendingRequest.append(rest, pool: buffers)
            if queued < rest.count {
                // More than the receive window allows: the peer broke flow control.
                downstream?.reset(downstreamStream, code: .flowControlError)
            }
        }
        if taken > 0 { downstream?.consumed(downstreamStream, byteCount: taken) }
        // The end goes to the leg once queued bytes are out (flushRequest frames it per leg: the
        // last chunk of an HTTP/1.1 body, END_STREAM or trailers on HTTP/2).
        if requestEnded { flushRequest() }
    }

    func requestTrailers(_ fields: UnsafeBufferPointer<HeaderField>) {
        requestEnded = true
        hasRequestTrailers = true
        for field in fields { requestTrailerBlock.append(name: field.name, value: field.value) }
        flushRequest()
    }

    /// The client's stream closed (finished, or reset by the client).
    func downstreamStreamClosed(_ reason: HTTP2StreamCloseReason) {
        downstreamOpen = false
        if case .finished = reason {} else { cancelUpstream() }
        finishIfDone()
    }

    /// An HTTP/1.1 client session is done with this exchange (its response is out, or it failed):
    /// it hears nothing more from it. Unless the exchange completed, the upstream is cancelled.
    func detachDownstream(completed: Bool) {
        downstream = nil
        downstreamOpen = false
        if !completed { cancelUpstream() }
        finishIfDone()
    }

    /// The whole client connection went away.
    func downstreamClosed() {
        downstreamOpen = false
        cancelUpstream()
        finishIfDone()
    }

    func downstreamCanSendMore() {
        flushResponse()
    }

    // MARK: Choosing and opening the upstream

    private func acquireUpstream() {
        let snapshot = worker.snapshot
        guard snapshotVersion == snapshot.version else {
            fail(lastFailure ?? .noEndpoint)
            return
        }
        // Only the protocol is read: copying the whole `Destination` retained its strings and array.
        let upstreamProtocol = snapshot.table.destinations[destination].upstreamProtocol
        let start = Int(snapshot.destinationStart[destination])
        let count = Int(snapshot.destinationCount[destination])
        // `auto` speaks the client's protocol (an HTTP/1.1 client only reaches this class for an
        // h2c destination, or for the fallback of one).
        let useHTTP2 = upstreamProtocol == .h2c || (upstreamProtocol == .auto && !clientIsHTTP1)
        while endpointsTried < count {
            let index = Int((endpointCursor &+ UInt32(endpointsTried)) % UInt32(count))
            endpointsTried += 1
            let pool = worker.pool(snapshot.endpointIDs[start + index])
            if worker.shouldSkipEjected(pool, start: start, count: count) { continue }
            if useHTTP2 {
                if let connection = pool.http2Connections.first(where: { $0.hasCapacity }) {
                    leg = .h2Pending(connection)
                    connection.open(self)
                    return
                }
                if pool.openCount >= worker.limits.upstreamMaxConnectionsPerEndpoint {
                    lastFailure = .poolExhausted
                    continue
                }
                switch HTTP2UpstreamConnection.connect(worker: worker, pool: pool) {
                case .success(let connection):
                    leg = .h2Pending(connection)
                    connection.open(self)
                    return
                case .failure(let error):
                    countFailure(error.failure)
                    lastFailure = error.failure
                }
            } else if startHTTP1Leg(pool: pool) {
                return
            }
        }
        connectPhaseFailed(lastFailure ?? .noEndpoint)
    }

    /// Every endpoint failed before the request could reach one: the route's fallback, or fail.
    private func connectPhaseFailed(_ failure: UpstreamFailure) {
        let snapshot = worker.snapshot
        if !usedFallback, let fallback = snapshot.table.destinations[destination].fallbackDestination {
            worker.stats.fallbacks &+= 1
            usedFallback = true
            destination = fallback
            isSandbox = false
            endpointsTried = 0
            endpointCursor = worker.nextRoundRobin(destination: fallback)
            acquireUpstream()
            return
        }
        fail(failure)
    }

    func countFailure(_ failure: UpstreamFailure) {
        worker.stats.upstreamFailures[failure.rawValue] &+= 1
    }

    // MARK: The HTTP/2 upstream leg

    /// The headers sent upstream over HTTP/2: the client's, as they came (pseudo-headers included).
    var upstreamRequestHeaders: UnsafeBufferPointer<HeaderField> { requestHeaders.fields }

    func upstreamStreamOpened(_ connection: HTTP2UpstreamConnection, _ stream: HTTP2StreamID) {
        leg = .h2(connection, stream)
        if requestEndsWithHead {
            upstreamRequestEnded = true
            requestFullySent()
        }
        flushRequest()
    }

    func upstreamConnectFailed(_ failure: UpstreamFailure) {
        countFailure(failure)
        lastFailure = failure
        leg = .none
        guard downstreamOpen else { return finishIfDone() }
        acquireUpstream()
    }

    /// The upstream connection broke while this exchange's stream was open on it.
    func upstreamConnectionFailed(_ failure: UpstreamFailure) {
        leg = .done
        upstreamBroke(failure)
    }

    func upstreamCanSendMore() {
        flushRequest()
    }

    func upstreamResponseHead(_ fields: UnsafeBufferPointer<HeaderField>, endStream: Bool) {
        guard let downstream, downstreamOpen else { return }
        lastProgressAt = loop.now
        status = 0
        for field in fields where field.name.count == 7 && ASCII.equalsCaseInsensitive(field.name, lowercased: ":status") {
            status = Int(parseDecimal(field.value) ?? 0)
        }
        responseHeadSent = true
        if endStream { responseEnded = true }
        downstream.respond(downstreamStream, headers: fields, endStream: endStream)
        if endStream { responseComplete() }
    }

    func upstreamData(_ bytes: UnsafeRawBufferPointer, endStream: Bool) {
        guard case .h2(let connection, let stream) = leg else { return }
        lastProgressAt = loop.now
        // Bytes already queued go first, and so does the end of the stream: nghttp2 reports
        // END_STREAM as an empty chunk after the data, which must not end the client's stream
        // while earlier bytes still wait in the queue (they would be dropped: a silent truncation).
        var taken = 0
        if pendingResponse.isEmpty {
            taken = offerResponseBytes(bytes, endStream: endStream)
            if taken == bytes.count {
                if taken > 0 { connection.consumed(stream, byteCount: taken) }
                return
            }
        }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[taken...])
        if pendingResponse.append(rest, pool: buffers) < rest.count {
            // More than the window we granted: the upstream broke flow control.
            connection.cancel(stream)
            leg = .done
            upstreamBroke(.malformedResponse)
            return
        }
        if endStream { pendingResponseEnd = true }
        if taken > 0 { connection.consumed(stream, byteCount: taken) }
    }

    func upstreamTrailers(_ fields: UnsafeBufferPointer<HeaderField>) {
        if pendingResponse.isEmpty, downstream != nil, downstreamOpen, !responseEnded {
            // Nothing waits ahead of them (the usual case): straight to the client's stream,
            // whose session copies them, without a copy of our own first.
            endResponse(trailers: fields)
            return
        }
        responseTrailerBlock.append(contentsOf: fields)
        pendingTrailers = true
        flushResponse()
    }

    func upstreamStreamClosed(_ reason: HTTP2StreamCloseReason) {
        let wasPending: Bool
        if case .h2Pending = leg { wasPending = true } else { wasPending = false }
        leg = .done
        switch reason {
        case .finished:
            if !responseEnded && !pendingResponseEnd && !pendingTrailers {
                upstreamBroke(.closedEarly)
            }
        case .refused:
            // Never processed (REFUSED_STREAM, or above a GOAWAY's last stream): safe to send again.
            if !responseHeadSent && !retriedRefused && (requestEndsWithHead || wasPending || requestReplayable) {
                retriedRefused = true
                worker.stats.upstreamRetries &+= 1
                leg = .none
                endpointsTried = 0
                retryOnNextPass()
            } else {
                upstreamBroke(.reset)
            }
        case .resetByPeer(let code) where code == .cancel:
            upstreamCancelled()
        case .resetByPeer, .resetLocally:
            upstreamBroke(.reset)
        }
        finishIfDone()
    }

    /// Acquires an upstream again once the current loop pass is over. A refusal is reported from
    /// inside the upstream session's input processing (RST_STREAM, GOAWAY), where that session
    /// cannot open a new stream (`submitRequest` refuses while nghttp2 runs): a retry made there
    /// on the same connection would fail at once and end the exchange with 502.
    private func retryOnNextPass() {
        retryPending = true
        if timerSlot == .invalid { timerSlot = loop.registerTimerOnly(handler: self) }
        loop.resumeLater(timerSlot)
    }

    /// The upstream reset the stream with CANCEL: the call was cancelled, and the client hears
    /// exactly that, RST_STREAM(CANCEL) on its own stream (a gRPC client reads it as CANCELLED,
    /// grpc/grpc PROTOCOL-HTTP2.md "Errors"), not a made-up UNAVAILABLE or INTERNAL_ERROR.
    private func upstreamCancelled() {
        countFailure(.reset)
        worker.stats.countRequest(sandbox: isSandbox, status: 502)
        guard let downstream, downstreamOpen, !responseEnded else { return }
        responseEnded = true
        pendingResponse.removeAll(pool: buffers)
        downstream.reset(downstreamStream, code: .cancel)
    }

    /// Sends the request again on a new HTTP/1.1 connection after the keep-alive race (the
    /// caller checked that nothing of a response arrived and that replaying is safe). At most once
    /// per exchange, and only while the client still waits. False when it may not.
    func replayOnFreshConnection(after failure: UpstreamFailure) -> Bool {
        guard !retriedRefused, !responseHeadSent, downstreamOpen else { return false }
        retriedRefused = true
        countFailure(failure)
        worker.stats.upstreamRetries &+= 1
        h1.reset(worker: worker)
        h1.freshConnectionOnly = true
        leg = .none
        endpointsTried = 0
        upstreamRequestEnded = false
        requestSentAt = 0
        acquireUpstream()
        return true
    }

    /// Whether the request body can be sent again from the start (nothing of it was consumed yet).
    private var requestReplayable: Bool { requestEndsWithHead }

    // MARK: Moving bytes

    /// Offers request body bytes to the upstream leg; returns how many it took.
    private func offerRequestBytesToLeg(_ bytes: UnsafeRawBufferPointer, endStream: Bool) -> Int {
        switch leg {
        case .h2(let connection, let stream):
            if hasRequestTrailers && endStream {
                // Trailers end the stream instead.
                return takenCount(connection.send(stream, bytes, endStream: false), offered: bytes.count)
            }
            return takenCount(connection.send(stream, bytes, endStream: endStream), offered: bytes.count)
        case .h1:
            return h1OfferRequestBytes(bytes, endStream: endStream)
        case .none, .h2Pending, .done:
            return 0
        }
    }

    /// Offers bytes and records whether that also ended the request upstream.
    private func offerRequestBytes(_ bytes: UnsafeRawBufferPointer, endStream: Bool) -> Int {
        let taken = offerRequestBytesToLeg(bytes, endStream: endStream)
        if taken > 0 { lastProgressAt = loop.now }
        if endStream && taken == bytes.count, case .h2 = leg { upstreamRequestEnded = true }
        return taken
    }

    private func takenCount(_ result: HTTP2SendResult, offered: Int) -> Int {
        switch result {
        case .accepted: offered
        case .partial(let count): count
        case .streamClosed: offered // the stream is gone: drop the bytes
        }
    }

    /// Sends what waits in `pendingRequest`, then the end of the request.
    func flushRequest() {
        while !pendingRequest.isEmpty {
            let front = pendingRequest.front
            let last = pendingRequest.count == front.count
            let taken = offerRequestBytes(front, endStream: requestEnded && last && !hasRequestTrailers)
            guard taken > 0 else { return }
            pendingRequest.removeFront(taken, pool: buffers)
            downstream?.consumed(downstreamStream, byteCount: taken)
            if taken < front.count { return }
        }
        guard requestEnded, !upstreamRequestEnded else { return }
        switch leg {
        case .h2(let connection, let stream):
            if hasRequestTrailers {
                connection.sendTrailers(stream, headers: requestTrailerBlock.fields)
            } else {
                _ = connection.send(stream, UnsafeRawBufferPointer(start: nil, count: 0), endStream: true)
            }
            upstreamRequestEnded = true
        case .h1:
            h1FinishRequest()
            upstreamRequestEnded = h1.requestDone
        case .none, .h2Pending, .done:
            return
        }
        if upstreamRequestEnded { requestFullySent() }
    }

    private func requestFullySent() {
        if requestSentAt == 0 { requestSentAt = loop.now }
        armTimer()
    }

    /// Offers response body bytes to the client's stream; returns how many it took.
    func offerResponseBytes(_ bytes: UnsafeRawBufferPointer, endStream: Bool) -> Int {
        guard let downstream, downstreamOpen else { return bytes.count }
        let end = endStream && !pendingTrailers
        let result = downstream.send(downstreamStream, bytes, endStream: end)
        let taken = takenCount(result, offered: bytes.count)
        if taken > 0 { lastProgressAt = loop.now }
        if end && taken == bytes.count {
            responseEnded = true
            responseComplete()
        }
        return taken
    }

    /// Sends what waits in `pendingResponse`, then the end or the trailers.
    func flushResponse() {
        while !pendingResponse.isEmpty {
            let front = pendingResponse.front
            let last = pendingResponse.count == front.count
            let taken = offerResponseBytes(front, endStream: pendingResponseEnd && last)
            guard taken > 0 else { return }
            pendingResponse.removeFront(taken, pool: buffers)
            h1ResponseBytesForwarded(taken)
            if case .h2(let connection, let stream) = leg { connection.consumed(stream, byteCount: taken) }
            if taken < front.count { return }
        }
        if pendingTrailers, downstream != nil, downstreamOpen, !responseEnded {
            pendingTrailers = false
            endResponse(trailers: responseTrailerBlock.fields)
        }
    }

    /// The trailers end the client's response.
    private func endResponse(trailers: UnsafeBufferPointer<HeaderField>) {
        downstream?.sendTrailers(downstreamStream, headers: trailers)
        responseEnded = true
        responseComplete()
    }

    private func responseComplete() {
        worker.stats.countRequest(sandbox: isSandbox, status: status == 0 ? 200 : status)
        finishIfDone()
    }

    // MARK: Failures

    /// The upstream broke after the request may have reached it. The one place such failures
    /// are counted (connect-phase failures are counted per attempt where they happen).
    func upstreamBroke(_ failure: UpstreamFailure) {
        countFailure(failure)
        if responseHeadSent {
            if !responseEnded, let downstream, downstreamOpen {
                if isGRPC {
                    // A gRPC client reads the status from trailers: say what happened.
                    responseTrailerBlock.removeAll()
                    GRPC.appendStatus(to: responseTrailerBlock, code: GRPC.statusCode(for: failure),
                                      message: failure.explanation)
                    pendingTrailers = true
                    flushResponse()
                } else {
                    downstream.reset(downstreamStream, code: .internalError)
                }
            }
            worker.stats.countRequest(sandbox: isSandbox, status: 502)
        } else {
            fail(failure)
        }
        finishIfDone()
    }

    /// Answers the client with `failure` (nothing of a response was sent).
    private func fail(_ failure: UpstreamFailure) {
        cancelUpstream()
        let snapshot = worker.snapshot
        var message = failure.explanation
        if snapshotVersion == snapshot.version, destination >= 0 {
            let target = snapshot.table.destinations[destination]
            if let key = target.routingKey {
                message = "sandbox \"\(target.name)\" (routing key \(key)) is unreachable: \(failure.explanation)"
            } else {
                message = "baseline of service \"\(target.name)\" is unreachable: \(failure.explanation)"
            }
        }
        worker.stats.countRequest(sandbox: isSandbox, status: failure.status)
        respond(status: failure.status, grpcStatus: GRPC.statusCode(for: failure), message: message)
    }

    enum LocalReason { case noService }

    private func respondLocally(_ reason: LocalReason, message: String) {
        worker.stats.countLocalResponse(status: 404)
        respond(status: 404, grpcStatus: GRPC.unimplemented, message: message)
    }

    /// devmesh's own answer: for gRPC a trailers-only response carrying `grpc-status`, otherwise
    /// the status with a short text body.
    private func respond(status: Int, grpcStatus: Int, message: String) {
        guard let downstream, downstreamOpen, !responseHeadSent else { return }
        responseHeadSent = true
        self.status = status
        let block = responseTrailerBlock
        block.removeAll()
        if isGRPC {
            GRPC.appendTrailersOnly(to: block, code: grpcStatus, message: message)
            responseEnded = true
            downstream.respond(downstreamStream, headers: block.fields, endStream: true)
        } else {
            let body = Array(("devmesh: " + message + "\n").utf8)
            var statusText = Array(String(status).utf8)
            var lengthText = Array(String(body.count).utf8)
            statusText.withUnsafeBytes { statusBytes in
                lengthText.withUnsafeBytes { lengthBytes in
                    block.append(name: ":status", value: statusBytes)
                    block.append(name: "content-type", value: "text/plain; charset=utf-8")
                    block.append(name: "content-length", value: lengthBytes)
                }
            }
            downstream.respond(downstreamStream, headers: block.fields, endStream: false)
            body.withUnsafeBytes { _ = downstream.send(downstreamStream, $0, endStream: true) }
            statusText.removeAll()
            lengthText.removeAll()
            responseEnded = true
        }
        block.removeAll()
        finishIfDone()
    }

    private func cancelUpstream() {
        switch leg {
        case .h2(let connection, let stream):
            connection.cancel(stream)
        case .h2Pending(let connection):
            connection.forget(self)
        case .h1:
            h1Abort()
        case .none, .done:
            break
        }
        leg = .done
    }

    // MARK: Deadlines

    private func armTimer() {
        guard let deadline = currentDeadline() else { return }
        if timerSlot == .invalid { timerSlot = loop.registerTimerOnly(handler: self) }
        if let armed = loop.timerDeadline(timerSlot), armed <= deadline { return }
        loop.setTimer(timerSlot, deadline: deadline)
    }

    private func currentDeadline() -> Int64? {
        currentExpiry()?.deadline
    }

    /// The earliest deadline of what the exchange waits for, and the failure it means when it
    /// passes. The same rules as an HTTP/1.1 exchange: the call's own deadline (grpc-timeout);
    /// the response timeout from the end of the request until the response head; otherwise the
    /// stream-idle timeout, the longest time with no byte moving either way (a stalled upstream
    /// body, or a client that stops sending or reading).
    ///
    /// gRPC calls have no stream-idle timeout: a quiet stream (a watch, a subscription, a bidi
    /// session waiting for its next message) is how gRPC is used, and the call carries its own
    /// deadline when it wants one. Memory stays bounded by flow control either way.
    private func currentExpiry() -> (deadline: Int64, failure: UpstreamFailure)? {
        var expiry: (deadline: Int64, failure: UpstreamFailure)?
        if callDeadline > 0 { expiry = (callDeadline, .responseTimeout) }
        let timeouts = worker.timeouts
        var candidate: (deadline: Int64, failure: UpstreamFailure)?
        if !responseHeadSent, requestSentAt > 0, timeouts.upstreamResponse.value > 0 {
            candidate = (requestSentAt + timeouts.upstreamResponse.value, .responseTimeout)
        } else if timeouts.streamIdle.value > 0 && !isGRPC {
            candidate = (lastProgressAt + timeouts.streamIdle.value, .streamIdleTimeout)
        }
        if let candidate, expiry == nil || candidate.deadline < expiry!.deadline { expiry = candidate }
        return expiry
    }

    /// Only `resumeLater` reaches here (the slot has no descriptor): a deferred retry.
    func handleEvents(_ events: UInt32) {
        guard events == EventLoop.Events.resume, retryPending else { return }
        retryPending = false
        guard downstreamOpen, case .none = leg else { return finishIfDone() }
        acquireUpstream()
    }

    func handleTimer() {
        guard let expiry = currentExpiry() else { return }
        if loop.now < expiry.deadline {
            loop.setTimer(timerSlot, deadline: expiry.deadline)
            return
        }
        cancelUpstream()
        upstreamBroke(expiry.failure)
    }

    // MARK: The end

    /// Both sides are done: give everything back and return to the worker's pool.
    private func finishIfDone() {
        guard active, !downstreamOpen else { return }
        switch leg {
        case .h2, .h2Pending, .h1: return
        case .none, .done: break
        }
        if timerSlot != .invalid {
            loop.deregister(timerSlot)
            timerSlot = .invalid
        }
        active = false
        downstream?.exchangeFinished(downstreamStream)
        worker.returnStreamExchange(self)
    }

    // MARK: For the HTTP/1.1 leg

    func recordConnectFailure(_ failure: UpstreamFailure) { lastFailure = failure }
    var pendingResponseCount: Int { pendingResponse.count }
    var downstreamOpenForResponse: Bool { downstreamOpen && !responseHeadSent }

    func markResponseHeadSent(endStream: Bool) {
        responseHeadSent = true
        lastProgressAt = loop.now
        if endStream {
            responseEnded = true
            responseComplete()
        }
    }

    func queueResponse(_ bytes: UnsafeRawBufferPointer) -> Int {
        pendingResponse.append(bytes, pool: buffers)
    }

    func queueTrailers() { pendingTrailers = true }

    /// The upstream's body ended: end the client's stream once queued bytes are out.
    func finishResponseBody() {
        guard !responseEnded else { return }
        if !pendingResponse.isEmpty {
            pendingResponseEnd = true
        } else if !pendingTrailers {
            _ = offerResponseBytes(UnsafeRawBufferPointer(start: nil, count: 0), endStream: true)
            return
        }
        flushResponse()
    }

    func h1LegEnded() {
        leg = .done
        finishIfDone()
    }

    private func parseDecimal(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 19 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + UInt64(byte - 0x30)
        }
        return value
    }
}
