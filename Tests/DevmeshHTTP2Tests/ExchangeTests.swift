import DevmeshHTTP2
import XCTest

/// Request/response exchanges between a client and a server session, under different output
/// buffer sizes and input splits (frames cut at every byte, left-over output).
final class ExchangeTests: XCTestCase {
    /// (output buffer bytes, receive split bytes)
    let transports: [(Int, Int)] = [(16 * 1024, .max), (1024, 1), (100, 7), (4096, 1000)]

    func testGetWithoutBodies() {
        for (outputSize, split) in transports {
            let pair = SessionPair(outputSize: outputSize, splitSize: split)
            pair.serverEvents.onHeaders = { session, stream, kind, _, _ in
                if kind == .request { session.respond(stream, [Field(":status", "204")], endStream: true) }
            }
            let stream = pair.request(getRequest("/a", extra: [Field("baggage", "sd-routing-key=abc")]), endStream: true)
            pair.pump()
            let context = "output \(outputSize), split \(split)"
            XCTAssertEqual(pair.serverEvents.events.first,
                           .headers(stream, .request, getRequest("/a", extra: [Field("baggage", "sd-routing-key=abc")]),
                                    endStream: true), context)
            XCTAssertEqual(pair.clientEvents.headers(of: stream, kind: .response), [Field(":status", "204")], context)
            XCTAssertTrue(pair.clientEvents.ended(stream), context)
            XCTAssertEqual(pair.clientEvents.closeReason(of: stream), .finished, context)
            XCTAssertEqual(pair.serverEvents.closeReason(of: stream), .finished, context)
            XCTAssertEqual(pair.server.openStreamCount, 0, context)
            XCTAssertEqual(pair.client.openStreamCount, 0, context)
        }
    }

    func testPostAndResponseBodies() {
        let requestBody = pattern(40_000, seed: 1)
        let responseBody = pattern(70_000, seed: 2)
        for (outputSize, split) in transports {
            let pair = SessionPair(outputSize: outputSize, splitSize: split)
            var responding: [HTTP2StreamID: [UInt8]] = [:]
            pair.serverEvents.onData = { session, stream, _, endStream in
                guard endStream else { return }
                session.respond(stream, [Field(":status", "200"), Field("content-length", "\(responseBody.count)")],
                                endStream: false)
                responding[stream] = responseBody
            }
            // Feed the response as room appears, like a proxy reading its upstream.
            let feed = { (session: HTTP2Session, stream: HTTP2StreamID) in
                guard var rest = responding[stream] else { return }
                let result = session.send(stream, rest, endStream: true)
                switch result {
                case .accepted: rest = []
                case let .partial(count): rest.removeFirst(count)
                case .streamClosed: XCTFail("stream closed while sending")
                }
                responding[stream] = rest.isEmpty ? nil : rest
            }
            pair.serverEvents.onCanSendMore = feed
            let stream = pair.request(postRequest(extra: [Field("content-length", "\(requestBody.count)")]), endStream: false)
            var requestRest = requestBody
            pair.clientEvents.onCanSendMore = { session, id in
                guard id == stream, !requestRest.isEmpty else { return }
                if case let .partial(count) = session.send(id, requestRest, endStream: true) {
                    requestRest.removeFirst(count)
                } else {
                    requestRest = []
                }
            }
            if case let .partial(count) = pair.client.send(stream, requestRest, endStream: true) {
                requestRest.removeFirst(count)
            } else {
                requestRest = []
            }
            for _ in 0..<50 where pair.clientEvents.closeReason(of: stream) == nil {
                pair.pump()
                if let first = responding.keys.first { feed(pair.server, first) }
            }
            let context = "output \(outputSize), split \(split)"
            assertBytes(pair.serverEvents.body(of: stream), requestBody, context)
            assertBytes(pair.clientEvents.body(of: stream), responseBody, context)
            XCTAssertEqual(pair.clientEvents.closeReason(of: stream), .finished, context)
        }
    }

    func testTrailersBothWays() {
        let pair = SessionPair(outputSize: 1024, splitSize: 13)
        pair.serverEvents.onHeaders = { session, stream, kind, _, _ in
            guard kind == .trailers else { return }
            session.respond(stream, [Field(":status", "200"), Field("content-type", "application/grpc")], endStream: false)
            XCTAssertEqual(session.send(stream, [0, 0, 0, 0, 2, 8, 1], endStream: false), .accepted)
            session.trailers(stream, [Field("grpc-status", "0"), Field("grpc-message", "ok")])
        }
        let stream = pair.request(postRequest("/pkg.Svc/Call", extra: [Field("content-type", "application/grpc"),
                                                                          Field("te", "trailers")]),
                                  endStream: false)
        XCTAssertEqual(pair.client.send(stream, [0, 0, 0, 0, 1, 7], endStream: false), .accepted)
        pair.client.trailers(stream, [Field("x-request-checksum", "7")])
        pair.pump()
        XCTAssertEqual(pair.serverEvents.headers(of: stream, kind: .trailers), [Field("x-request-checksum", "7")])
        XCTAssertEqual(pair.serverEvents.body(of: stream), [0, 0, 0, 0, 1, 7])
        XCTAssertEqual(pair.clientEvents.body(of: stream), [0, 0, 0, 0, 2, 8, 1])
        XCTAssertEqual(pair.clientEvents.headers(of: stream, kind: .trailers),
                       [Field("grpc-status", "0"), Field("grpc-message", "ok")])
        XCTAssertEqual(pair.clientEvents.closeReason(of: stream), .finished)
        // `te: trailers` is the one connection-specific field allowed through (RFC 9113 §8.2.2).
        XCTAssertTrue(pair.serverEvents.headers(of: stream, kind: .request)?.contains(Field("te", "trailers")) ?? false)
    }

    /// Header lists given in HTTP/1.1 shape reach the peer as RFC 9113 wants them, on every kind
    /// of block (request, response, trailers): names lower-cased whatever their length (the copy
    /// lower-cases a word at a time), values untouched, connection-specific fields dropped.
    func testOutboundHeadersAreLowercasedAndConnectionFieldsDropped() {
        // (field as given, field as the peer must see it; nil: dropped)
        let table: [(Field, Field?)] = [
            (Field("X", "V"), Field("x", "V")),
            (Field("Ab", "Mixed Case Value"), Field("ab", "Mixed Case Value")),
            (Field("X-Seven", "7"), Field("x-seven", "7")),
            (Field("X-EIGHT8", "8"), Field("x-eight8", "8")),
            (Field("X-Nine-AZ", "9"), Field("x-nine-az", "9")),
            (Field("X-Custom-Header-Name-ABCXYZ", ""), Field("x-custom-header-name-abcxyz", "")),
            (Field("x-edge-^_`|~", "edge bytes"), Field("x-edge-^_`|~", "edge bytes")),
            (Field("Baggage", "sd-routing-key=K1"), Field("baggage", "sd-routing-key=K1")),
            (Field("Connection", "close"), nil),
            (Field("Keep-Alive", "timeout=5"), nil),
            (Field("Proxy-Connection", "keep-alive"), nil),
            (Field("Transfer-Encoding", "chunked"), nil),
            (Field("Upgrade", "h2c"), nil),
            (Field("TE", "gzip"), nil),
            (Field("TE", "Trailers"), Field("te", "Trailers")),
        ]
        let given = table.map(\.0)
        let expected = table.compactMap(\.1)
        let pair = SessionPair(outputSize: 1024, splitSize: 7)
        pair.serverEvents.onHeaders = { session, stream, kind, _, _ in
            guard kind == .request else { return }
            session.respond(stream, [Field(":status", "200")] + given, endStream: false)
            _ = session.send(stream, [1, 2, 3], endStream: false)
            session.trailers(stream, given)
        }
        let stream = pair.request(getRequest("/", extra: given), endStream: true)
        pair.pump()
        XCTAssertEqual(pair.serverEvents.headers(of: stream, kind: .request), getRequest("/", extra: expected))
        XCTAssertEqual(pair.clientEvents.headers(of: stream, kind: .response), [Field(":status", "200")] + expected)
        XCTAssertEqual(pair.clientEvents.headers(of: stream, kind: .trailers), expected)
        XCTAssertEqual(pair.clientEvents.closeReason(of: stream), .finished)
    }

    /// A client classifies a 103 then a 200 (from a hand-written server) as informational, then
    /// final; nghttp2 alone reports both as plain HEADERS.
    func testInformationalResponseBeforeFinal() {
        let client = HTTP2Session(role: .client)
        let events = Recorder()
        client.delegate = events
        let id = withHeaderFields(getRequest()) { client.submitRequest(headers: $0, endStream: true) }
        XCTAssertEqual(id, HTTP2StreamID(1))
        var sink = [UInt8](repeating: 0, count: 4096)
        while client.wantsWrite { _ = sink.withUnsafeMutableBytes { client.produce(into: $0) } }
        let serverBytes = RawFrame.frame(RawFrame.settings) + RawFrame.frame(RawFrame.settings, flags: RawFrame.ack)
            + RawFrame.frame(RawFrame.headers, flags: RawFrame.endHeaders, stream: 1,
                             RawFrame.literal(nameIndex: 8, value: "103")) // :status (static index 8)
            + RawFrame.frame(RawFrame.headers, flags: RawFrame.endHeaders | RawFrame.endStream, stream: 1,
                             [0x88]) // indexed :status 200
        XCTAssertEqual(serverBytes.withUnsafeBytes { client.receive($0, now: 0) }, .processed)
        XCTAssertEqual(events.events, [
            .headers(HTTP2StreamID(1), .informational, [Field(":status", "103")], endStream: false),
            .headers(HTTP2StreamID(1), .response, [Field(":status", "200")], endStream: true),
            .closed(HTTP2StreamID(1), .finished),
        ])
    }

    func testManyConcurrentStreams() {
        let pair = SessionPair(outputSize: 8192, splitSize: 3000)
        pair.serverEvents.onHeaders = { session, stream, kind, fields, _ in
            guard kind == .request, let path = fields.first(where: { $0.name == ":path" })?.value else { return }
            session.respond(stream, [Field(":status", "200")], endStream: false)
            XCTAssertEqual(session.send(stream, Array(path.utf8), endStream: true), .accepted)
        }
        var streams: [HTTP2StreamID] = []
        for index in 0..<100 { streams.append(pair.request(getRequest("/item/\(index)"), endStream: true)) }
        XCTAssertEqual(pair.client.availableStreamSlots, 0, "100 = the peer's default limit before its SETTINGS")
        pair.pump()
        XCTAssertEqual(pair.serverEvents.openedStreams.count, 100)
        for (index, stream) in streams.enumerated() {
            XCTAssertEqual(pair.clientEvents.body(of: stream), Array("/item/\(index)".utf8))
            XCTAssertEqual(pair.clientEvents.closeReason(of: stream), .finished)
        }
        XCTAssertEqual(pair.client.availableStreamSlots, 100)
    }

    func testOutboundNamesAreLowerCasedAndConnectionFieldsDropped() {
        let pair = SessionPair()
        pair.serverEvents.onHeaders = { session, stream, _, _, _ in
            session.respond(stream, [Field(":status", "200"), Field("Content-Type", "text/plain"),
                                     Field("Connection", "close"), Field("Keep-Alive", "timeout=5"),
                                     Field("Transfer-Encoding", "chunked"), Field("X-Trace", "1")],
                            endStream: true)
        }
        let stream = pair.request(getRequest(extra: [Field("Upgrade", "h2c"), Field("TE", "gzip"),
                                                     Field("Proxy-Connection", "keep-alive"), Field("X-Key", "v")]),
                                  endStream: true)
        pair.pump()
        XCTAssertEqual(pair.serverEvents.headers(of: stream, kind: .request), getRequest(extra: [Field("x-key", "v")]))
        XCTAssertEqual(pair.clientEvents.headers(of: stream, kind: .response),
                       [Field(":status", "200"), Field("content-type", "text/plain"), Field("x-trace", "1")])
    }

    func testResponseSubmittedOutsideCallbacks() {
        let pair = SessionPair(outputSize: 512, splitSize: 5)
        let stream = pair.request(getRequest(), endStream: true)
        pair.pump()
        XCTAssertNil(pair.clientEvents.headers(of: stream, kind: .response))
        pair.server.respond(stream, [Field(":status", "200")], endStream: false)
        XCTAssertEqual(pair.server.send(stream, pattern(3000), endStream: false), .accepted)
        pair.pump()
        XCTAssertEqual(pair.server.send(stream, pattern(10, seed: 9), endStream: true), .accepted)
        pair.pump()
        assertBytes(pair.clientEvents.body(of: stream), pattern(3000) + pattern(10, seed: 9))
        XCTAssertEqual(pair.clientEvents.closeReason(of: stream), .finished)
        XCTAssertEqual(pair.server.send(stream, [1], endStream: true), .streamClosed)
    }
}
