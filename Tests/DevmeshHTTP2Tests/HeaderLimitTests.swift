import DevmeshHTTP2
import XCTest

/// The decoded header-list cap nghttp2 does not enforce (reliability.md §3): a request over it
/// gets 431 from the session itself, any other block resets its stream, and HPACK decoding goes
/// on so later blocks on the connection still decode (RFC 9113 §10.5.1).
final class HeaderLimitTests: XCTestCase {
    let limits = HTTP2Settings(maxHeaderListBytes: 2048, maxHeaderFieldCount: 20)

    func testOversizedRequestsGet431AndTheConnectionStaysUsable() {
        // Each case: extra request fields that break a limit.
        let cases: [(String, [Field])] = [
            ("one large value", [Field("x-big", String(repeating: "a", count: 3000))]),
            ("many small fields", (0..<21).map { Field("x-f\($0)", "v") }),
            ("just over the byte cap", (0..<4).map { Field("x-p\($0)", String(repeating: "b", count: 480)) }),
        ]
        for (name, extra) in cases {
            let pair = SessionPair(serverSettings: limits)
            pair.serverEvents.onHeaders = { session, id, _, _, _ in
                session.respond(id, [Field(":status", "200")], endStream: true)
            }
            // "x-shared" enters both HPACK tables with the first request and is sent indexed in the
            // second: a decoder that skipped the rejected block would fail the second.
            let rejected = pair.request(getRequest("/big", extra: [Field("x-shared", "s1")] + extra), endStream: true)
            pair.pump()
            XCTAssertEqual(pair.clientEvents.headers(of: rejected, kind: .response),
                           [Field(":status", "431"), Field("content-length", "0")], name)
            XCTAssertEqual(pair.clientEvents.closeReason(of: rejected), .finished, name)
            XCTAssertTrue(pair.serverEvents.events.isEmpty, "the proxy never sees it: \(name)")
            XCTAssertEqual(pair.server.counters.headerListsTooLarge, 1, name)
            let next = pair.request(getRequest("/next", extra: [Field("x-shared", "s1")]), endStream: true)
            pair.pump()
            XCTAssertEqual(pair.serverEvents.headers(of: next, kind: .request),
                           getRequest("/next", extra: [Field("x-shared", "s1")]), name)
            XCTAssertEqual(pair.clientEvents.closeReason(of: next), .finished, name)
            XCTAssertNil(pair.server.failure, name)
        }
    }

    /// A rejected request that still sends a body and trailers: they are consumed and dropped,
    /// never delivered, and the connection window is not lost.
    func testBodyOfARejectedRequestIsDiscarded() {
        let pair = SessionPair(serverSettings: limits)
        pair.serverEvents.onHeaders = { session, id, _, _, _ in
            session.respond(id, [Field(":status", "200")], endStream: true)
        }
        let rejected = pair.request(postRequest(extra: [Field("x-big", String(repeating: "a", count: 3000))]),
                                    endStream: false)
        for _ in 0..<80 {
            _ = pair.client.send(rejected, pattern(16 * 1024), endStream: false)
            pair.pump()
        }
        pair.client.trailers(rejected, [Field("x-checksum", "1")])
        pair.pump()
        XCTAssertTrue(pair.serverEvents.events.isEmpty, "neither body nor trailers reach the proxy")
        XCTAssertEqual(pair.clientEvents.headers(of: rejected, kind: .response)?.first, Field(":status", "431"))
        XCTAssertEqual(pair.clientEvents.closeReason(of: rejected), .finished)
        let next = pair.request(postRequest(), endStream: false)
        XCTAssertEqual(pair.client.send(next, pattern(1000), endStream: true), .accepted)
        pair.pump()
        XCTAssertEqual(pair.serverEvents.body(of: next).count, 1000, "connection window still open")
    }

    func testOversizedResponseHeadersAndTrailersResetTheStream() {
        // (client limits, response fields, trailers) -> the client resets with ENHANCE_YOUR_CALM.
        let big = [Field("x-big", String(repeating: "z", count: 3000))]
        let cases: [([Field], [Field]?)] = [
            ([Field(":status", "200")] + big, nil),
            ([Field(":status", "200")], big),
        ]
        for (head, trailers) in cases {
            let pair = SessionPair(clientSettings: limits)
            pair.serverEvents.onHeaders = { session, id, _, _, _ in
                session.respond(id, head, endStream: trailers == nil)
                if let trailers { session.trailers(id, trailers) }
            }
            let id = pair.request(getRequest(extra: [Field("x-shared", "s2")]), endStream: true)
            pair.pump()
            XCTAssertEqual(pair.clientEvents.closeReason(of: id), .resetLocally(.enhanceYourCalm))
            // The server had sent its whole response: for it the stream finished before the RST.
            XCTAssertEqual(pair.serverEvents.closeReason(of: id), .finished)
            XCTAssertEqual(pair.client.counters.headerListsTooLarge, 1)
            XCTAssertNil(pair.clientEvents.headers(of: id, kind: .trailers))
            // HPACK still in sync on the client side.
            pair.serverEvents.onHeaders = { session, id, _, _, _ in
                session.respond(id, [Field(":status", "200"), Field("x-shared", "s2")], endStream: true)
            }
            let next = pair.request(getRequest(extra: [Field("x-shared", "s2")]), endStream: true)
            pair.pump()
            XCTAssertEqual(pair.clientEvents.headers(of: next, kind: .response),
                           [Field(":status", "200"), Field("x-shared", "s2")])
        }
    }

    func testTheLimitIsAdvertised() {
        let raw = RawServer(settings: limits)
        let settings = raw.flush().first { $0.type == RawFrame.settings }
        XCTAssertNotNil(settings)
        var advertised: [UInt16: UInt32] = [:]
        let payload = settings?.payload ?? []
        for offset in stride(from: 0, to: payload.count, by: 6) {
            let id = UInt16(payload[offset]) << 8 | UInt16(payload[offset + 1])
            advertised[id] = payload[offset + 2..<offset + 6].reduce(0) { $0 << 8 | UInt32($1) }
        }
        XCTAssertEqual(advertised, [0x3: 100, 0x4: 65_536, 0x5: 16_384, 0x6: 2048])
    }
}
