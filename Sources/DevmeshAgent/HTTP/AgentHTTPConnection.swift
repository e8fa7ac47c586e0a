import DevmeshBytes
import DevmeshHTTP1
import DevmeshIO

/// One client connection: bytes in, one request framed (head, then a Content-Length body), the
/// API's answer out.
///
/// Driven by one iterative `pump`: send what is queued; when nothing is queued, answer the next
/// complete request; stop when the socket is full or no whole request is buffered. One answer is
/// in flight at a time, which keeps pipelined answers in order and lets a client that does not
/// read hold at most one answer of the agent's memory. Input is bounded too: a client may be
/// ahead by one whole request (largest body) plus a head; beyond that it is cut off.
final class AgentHTTPConnection: EventHandler {
    /// The head of a request whose body is still arriving.
    private struct PendingRequest {
        var method: String
        var target: String
        var contentType: String?
        var headLength: Int
        var bodyLength: Int
        var keepAlive: Bool
    }

    /// Requests answered per wake-up before yielding to other connections (`resumeLater`).
    static let answersPerTurn = 32
    static let lingerMilliseconds: Int64 = 2_000
    static let lingerMaxBytes = 16 << 20

    private let fd: Int32
    private unowned let server: AgentHTTPServer
    private var slot: Slot = .invalid
    private var input: [UInt8] = []
    private var output: [UInt8] = []
    private var sentBytes = 0
    private var pending: PendingRequest?
    private var scanHint = 0
    /// The client sent its FIN: answer what is complete, then close.
    private var inputEnded = false
    private var closeAfterWrite = false
    /// After an error answer the request's bytes may still be arriving: closing at once would
    /// make the kernel reset the connection and the client could lose the answer. So the write
    /// side is shut and input is read and dropped until the client closes (bounded in bytes
    /// and time), as RFC 9112 §9.6 advises for a server that closes.
    private var lingerAfterWrite = false
    private var lingering = false
    private var discarded = 0
    private var chunk = [UInt8](repeating: 0, count: 16 * 1024)

    init(fd: Int32, server: AgentHTTPServer) {
        self.fd = fd
        self.server = server
    }

    private var inputLimit: Int { server.maxBodyBytes + 2 * AgentHTTPServer.limits.maxHeadBytes }

    func start() -> Bool {
        guard let registered = try? server.loop.register(fd, handler: self) else {
            Syscall.close(fd)
            return false
        }
        slot = registered
        armRequestTimer()
        return true
    }

    func handleEvents(_ events: UInt32) {
        if lingering { return discardInput() }
        guard readAvailable(events) else { return }
        pump()
    }

    func handleTimer() {
        if lingering { return close() }
        if output.isEmpty && (pending != nil || !input.isEmpty) {
            respond(APIResponse.error(AgentError(.invalid, "the request did not arrive within "
                                                 + "\(AgentHTTPServer.requestTimeoutMilliseconds / 1000) s")),
                    status: 408, head: false, keepAlive: false)
            pump()
        } else {
            close()
        }
    }

    // MARK: Reading

    /// Reads what the kernel has. Returns false when the connection was closed.
    private func readAvailable(_ events: UInt32) -> Bool {
        while !inputEnded {
            // SAFETY: chunk is a non-empty array; read writes at most raw.count bytes into it.
            let result = chunk.withUnsafeMutableBytes { raw in try? Syscall.read(fd, raw.baseAddress!, raw.count) }
            guard let result else { close(); return false }
            guard case .done(let count) = result else { return true }
            if count == 0 {
                inputEnded = true
                return true
            }
            input.append(contentsOf: chunk[0..<count])
            if input.count > inputLimit {
                close()
                return false
            }
            // Fewer bytes than asked means drained, unless the peer half-closed: then its FIN may
            // sit behind the data in this same edge, so read on until the 0.
            if count < chunk.count && events & EventLoop.Events.peerHalfClosed == 0 { return true }
        }
        return true
    }

    /// Reads and drops input until the client closes, the byte budget is spent or reading fails.
    private func discardInput() {
        while true {
            // SAFETY: as in readAvailable.
            let result = chunk.withUnsafeMutableBytes { raw in try? Syscall.read(fd, raw.baseAddress!, raw.count) }
            guard case .done(let count)? = result else {
                if result == nil { close() }
                return
            }
            discarded += count
            if count == 0 || discarded > AgentHTTPConnection.lingerMaxBytes { return close() }
        }
    }

    // MARK: The pump

    /// Sends, answers, sends again, until blocked or idle. Iterative on purpose: a client that
    /// pipelines thousands of requests must not turn into thousands of stack frames.
    private func pump() {
        var answered = 0
        while slot != .invalid {
            if sentBytes < output.count {
                // SAFETY: sentBytes < output.count, so the range sent is inside the array.
                let result = output.withUnsafeBytes { raw in
                    try? Syscall.send(fd, raw.baseAddress! + sentBytes, raw.count - sentBytes)
                }
                guard let result else { return close() }
                guard case .done(let sent) = result else { return } // the writable edge resumes us
                sentBytes += sent
                continue
            }
            if !output.isEmpty {
                output.removeAll(keepingCapacity: true)
                sentBytes = 0
                if closeAfterWrite { return finishAfterLastAnswer() }
                armRequestTimer()
            }
            guard answered < AgentHTTPConnection.answersPerTurn else {
                server.loop.resumeLater(slot) // fairness: other connections get a turn
                return
            }
            guard answerNextRequest() else {
                if inputEnded && output.isEmpty { close() }
                return
            }
            answered += 1
        }
    }

    private func finishAfterLastAnswer() {
        guard lingerAfterWrite else { return close() }
        lingering = true
        Syscall.shutdownWrite(fd)
        server.loop.setTimer(slot, deadline: server.loop.now + AgentHTTPConnection.lingerMilliseconds)
        discardInput()
    }

    /// Queues the answer to the next complete request in `input`; false when there is none.
    private func answerNextRequest() -> Bool {
        if pending == nil && !parseHead() { return !output.isEmpty }
        guard let request = pending, input.count >= request.headLength + request.bodyLength else {
            return !output.isEmpty // a 100 Continue to send while the body is awaited
        }
        let body = Array(input[request.headLength..<(request.headLength + request.bodyLength)])
        input.removeFirst(request.headLength + request.bodyLength)
        pending = nil
        let response = server.api.handle(APIRequest(method: request.method, target: request.target,
                                                    contentType: request.contentType, body: body))
        respond(response, status: response.status, head: request.method == "HEAD", keepAlive: request.keepAlive)
        return true
    }

    /// Parses a head from `input`; returns whether `pending` now holds a request (an invalid
    /// head queues an error answer instead).
    private func parseHead() -> Bool {
        guard !input.isEmpty else { return false }
        enum Outcome {
            case incomplete
            case invalid(HTTP1Error)
            case head(PendingRequest, chunked: Bool, expectContinue: Bool)
        }
        let outcome: Outcome = input.withUnsafeBytes { raw in
            switch RequestHeadParser.parse(raw, into: server.headers, limits: AgentHTTPServer.limits, scanFrom: &scanHint) {
            case .incomplete:
                return .incomplete
            case .invalid(let error):
                return .invalid(error)
            case .complete(let head):
                var contentType: String?
                for field in server.headers.fields
                where ASCII.equalsCaseInsensitive(field.name, lowercased: "content-type") {
                    contentType = field.value.debugString
                }
                var length = 0
                if case .contentLength(let declared) = head.framing {
                    length = declared > UInt64(Int.max) ? Int.max : Int(declared)
                }
                let request = PendingRequest(method: head.methodBytes.debugString, target: head.target.debugString,
                                             contentType: contentType, headLength: head.headLength,
                                             bodyLength: length, keepAlive: head.keepAlive)
                return .head(request, chunked: head.framing == .chunked, expectContinue: head.expectContinue)
            }
        }
        switch outcome {
        case .incomplete:
            return false
        case .invalid(let error):
            respondAndLinger(AgentError(.invalid, "malformed HTTP request (\(error.slug))"), status: Int(error.status))
            return false
        case .head(let request, let chunked, let expectContinue):
            if chunked {
                respondAndLinger(AgentError(.lengthRequired, "send the body with Content-Length "
                                            + "(chunked request bodies are not accepted)"), status: 411)
                return false
            }
            if request.bodyLength > server.maxBodyBytes {
                respondAndLinger(AgentError(.tooLarge, "the body is \(request.bodyLength) bytes; "
                                            + "the agent accepts at most \(server.maxBodyBytes)"), status: 413)
                return false
            }
            pending = request
            if expectContinue && input.count < request.headLength + request.bodyLength {
                // RFC 9110 §10.1.1: tell the client to send the body it is holding back. Sent
                // as an interim answer; the pump sends it before anything else.
                output.append(contentsOf: Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            }
            return true
        }
    }

    private func respondAndLinger(_ error: AgentError, status: Int) {
        respond(APIResponse.error(error), status: status, head: false, keepAlive: false)
        lingerAfterWrite = true
    }

    private func respond(_ response: APIResponse, status: Int, head: Bool, keepAlive: Bool) {
        let body = response.body.map { Array(($0.serialized() + "\n").utf8) } ?? []
        var text = "HTTP/1.1 \(status) \(APIResponse.reasonPhrase(status))\r\n"
        if status != 204 {
            text += "content-type: application/json\r\ncontent-length: \(body.count)\r\n"
        }
        for field in response.headers { text += "\(field.name): \(field.value)\r\n" }
        text += "cache-control: no-store\r\n"
        if !keepAlive { text += "connection: close\r\n" }
        text += "\r\n"
        output.append(contentsOf: Array(text.utf8))
        if !head && status != 204 { output.append(contentsOf: body) }
        if !keepAlive { closeAfterWrite = true }
    }

    private func armRequestTimer() {
        server.loop.setTimer(slot, deadline: server.loop.now + AgentHTTPServer.requestTimeoutMilliseconds)
    }

    func close() {
        guard slot != .invalid else { return }
        server.loop.deregister(slot)
        slot = .invalid
        Syscall.close(fd)
        server.closed(self)
    }
}
