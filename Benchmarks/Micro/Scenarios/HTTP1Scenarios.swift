import DevmeshHTTP1

/// DevmeshHTTP1 on realistic messages: what the proxy runs for every request and response.
enum HTTP1Scenarios {
    static let all = [parseRequestHead, parseResponseHead, chunkedWalk16k, rewriteHead]

    /// A service-to-service GET as a Go or Java client sends it through a mesh: Host with port,
    /// user agent, a W3C traceparent and a baggage carrying the routing key. 273 bytes.
    static let requestHead =
        "GET /api/v2/orders/8731/items?expand=prices HTTP/1.1\r\n"
        + "host: orders.shop.svc.cluster.local:8080\r\n"
        + "user-agent: checkout/1.42.0\r\n"
        + "accept: application/json\r\n"
        + "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
        + "baggage: sd-routing-key=4835rlwxwbwyl,userId=alice\r\n"
        + "\r\n"

    /// A small JSON answer. 109 bytes.
    static let responseHead =
        "HTTP/1.1 200 OK\r\n"
        + "content-type: application/json\r\n"
        + "content-length: 348\r\n"
        + "date: Tue, 04 Mar 2025 10:00:00 GMT\r\n"
        + "\r\n"

    static let parseRequestHead = Scenario(
        name: "http1.parse_request_head",
        summary: "parse a 273-byte request head (traceparent, baggage) into reused header slots",
        iterations: 200_000, quickIterations: 5_000
    ) {
        let input = FixtureBytes(requestHead)
        let storage = HeaderStorage()
        let limits = HTTP1Limits()
        var hint = 0
        if case .complete(let head) = RequestHeadParser.parse(input.view, into: storage, limits: limits,
                                                               scanFrom: &hint) {
            require(head.headLength == input.count && head.headerCount == 5,
                    "request head parsed to \(head.headLength) bytes, \(head.headerCount) fields")
        } else {
            fixtureFailure("request head did not parse")
        }
        return Workload { iterations in
            for _ in 0..<iterations {
                var hint = 0  // a new request each time: the scan starts at 0
                switch RequestHeadParser.parse(input.view, into: storage, limits: limits, scanFrom: &hint) {
                case .complete(let head): blackhole(head.headLength &+ head.headerCount &+ head.hostIndex)
                case .incomplete, .invalid: blackhole(-1)
                }
                // The parse wrote the field views into `storage`: make that memory count as read.
                blackhole(UnsafeRawPointer(storage.fields.baseAddress))
            }
        }
    }

    static let parseResponseHead = Scenario(
        name: "http1.parse_response_head",
        summary: "parse a 109-byte response head (content-type, content-length, date)",
        iterations: 300_000, quickIterations: 5_000
    ) {
        let input = FixtureBytes(responseHead)
        let storage = HeaderStorage()
        let limits = HTTP1Limits()
        var hint = 0
        if case .complete(let head) = ResponseHeadParser.parse(input.view, into: storage, limits: limits,
                                                                requestMethod: .get, scanFrom: &hint) {
            require(head.headLength == input.count && head.framing == .contentLength(348),
                    "response head parsed to \(head.headLength) bytes, framing \(head.framing)")
        } else {
            fixtureFailure("response head did not parse")
        }
        return Workload { iterations in
            for _ in 0..<iterations {
                var hint = 0
                switch ResponseHeadParser.parse(input.view, into: storage, limits: limits, requestMethod: .get,
                                                scanFrom: &hint) {
                case .complete(let head): blackhole(head.headLength &+ Int(head.status))
                case .incomplete, .invalid: blackhole(-1)
                }
                blackhole(UnsafeRawPointer(storage.fields.baseAddress))
            }
        }
    }

    /// 16 chunks of 1 KiB and the last chunk: a streaming server flushing as it renders.
    static func chunkedBody() -> [UInt8] {
        var body: [UInt8] = []
        for chunk in 0..<16 {
            body += Array("400\r\n".utf8)
            body += (0..<1024).map { UInt8(ascii: "a") &+ UInt8((chunk &+ $0) % 26) }
            body += Array("\r\n".utf8)
        }
        body += Array("0\r\n\r\n".utf8)
        return body
    }

    static let chunkedWalk16k = Scenario(
        name: "http1.chunked_walk_16k",
        summary: "walk a 16 KiB chunked body (16 x 1 KiB chunks) to its end, as the forwarder does",
        iterations: 100_000, quickIterations: 2_000
    ) {
        let input = FixtureBytes(chunkedBody())
        let limits = HTTP1Limits()
        var check = ChunkedDecoder(limits: limits)
        require(check.consume(input.view) == .end(consumed: input.count), "chunked body did not end where expected")
        return Workload { iterations in
            for _ in 0..<iterations {
                var decoder = ChunkedDecoder(limits: limits)  // a new body each time
                switch decoder.consume(input.view) {
                case .end(let consumed): blackhole(consumed)
                case .needMore, .invalid: blackhole(-1)
                }
            }
        }
    }

    /// A request whose Connection header names another header: both lines are hop-by-hop.
    static let hopByHopRequestHead =
        "GET /api/v2/orders/8731 HTTP/1.1\r\n"
        + "host: orders.shop.svc.cluster.local\r\n"
        + "connection: keep-alive, x-debug-hop\r\n"
        + "x-debug-hop: 1\r\n"
        + "user-agent: checkout/1.42.0\r\n"
        + "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
        + "baggage: sd-routing-key=4835rlwxwbwyl\r\n"
        + "\r\n"

    static let rewriteHead = Scenario(
        name: "http1.rewrite_head",
        summary: "restore a 264-byte head (memcpy), then drop Connection + the field it names and insert connection: close",
        iterations: 300_000, quickIterations: 5_000
    ) {
        // The rewrite works in place and destroys its input, so each operation first copies
        // the pristine head back (a ~240-byte memcpy, a few ns, included in the figure). The
        // line table is parsed once: its offsets stay valid for every copy.
        let headroom = 128  // as the proxy reads at an offset to leave room for an inserted line
        let pristine = FixtureBytes(hopByHopRequestHead)
        let buffer = FixtureBytes(hopByHopRequestHead, headroom: headroom)
        let storage = HeaderStorage()
        var hint = 0
        guard case .complete(let head) = RequestHeadParser.parse(pristine.view, into: storage,
                                                                  limits: HTTP1Limits(), scanFrom: &hint) else {
            fixtureFailure("hop-by-hop request head did not parse")
        }
        require(head.hopByHopCount == 2, "expected 2 hop-by-hop lines, parser marked \(head.hopByHopCount)")
        let lines = UnsafeMutableBufferPointer<HeaderLine>.allocate(capacity: storage.lines.count)
        _ = lines.initialize(from: storage.lines)
        let insert = FixtureBytes("connection: close\r\n")
        let headLength = head.headLength
        let headStart = head.startLineOffset
        let expectedLength = headLength - (Array("connection: keep-alive, x-debug-hop\r\nx-debug-hop: 1\r\n".utf8).count)
            + insert.count
        return Workload { iterations in
            let target = buffer.storage
            for _ in 0..<iterations {
                // SAFETY: `buffer` holds headroom + pristine.count bytes.
                (target.baseAddress! + headroom).copyMemory(from: pristine.view.baseAddress!, byteCount: pristine.count)
                switch HeadRewriter.prepareForwarding(in: target, base: headroom, headStart: headStart,
                                                      headLength: headLength, lines: UnsafeBufferPointer(lines),
                                                      inserting: insert.view) {
                case .rewritten(let start): blackhole(start)
                case .headroomTooSmall: blackhole(-1)
                }
                blackhole(UnsafeRawPointer(target.baseAddress))
            }
            withExtendedLifetime(lines) {}
        }.verifyingRewrite(buffer: buffer, headroom: headroom, expectedLength: expectedLength)
    }
}

extension Workload {
    /// Runs one operation at preparation time and checks the forwarded head has the expected
    /// length and ends with the inserted line plus the final CRLF.
    fileprivate func verifyingRewrite(buffer: FixtureBytes, headroom: Int, expectedLength: Int) -> Workload {
        run(1)
        let end = headroom + buffer.count
        let tail = Array("connection: close\r\n\r\n".utf8)
        let written = Array(UnsafeRawBufferPointer(rebasing: buffer.storage[(end - tail.count)..<end]))
        require(written == tail, "rewritten head does not end with the inserted line")
        let start = end - expectedLength
        let firstLine = Array("GET /api/v2/orders/8731 HTTP/1.1\r\n".utf8)
        require(Array(UnsafeRawBufferPointer(rebasing: buffer.storage[start..<start + firstLine.count])) == firstLine,
                "rewritten head does not start \(expectedLength) bytes before its end")
        return self
    }
}
