import DevmeshHTTP2
import XCTest

/// Malformed messages (RFC 9113 §8.1.1) are reset with PROTOCOL_ERROR and never reach the
/// proxy; the connection carries on.
final class MalformedRequestTests: XCTestCase {
    func testMalformedRequestHeadsAreResetAndNotDelivered() {
        let method: [UInt8] = [0x82], scheme: [UInt8] = [0x86]
        let path = RawFrame.literal(nameIndex: 4, value: "/")
        let authority = RawFrame.literal(nameIndex: 1, value: "svc.local")
        let cases: [(String, [UInt8])] = [
            ("upper-case name", RawFrame.requestBlock(extra: [("X-Upper", "1")])),
            ("missing :path", method + scheme + authority),
            ("empty :path", method + scheme + RawFrame.literal(nameIndex: 4, value: "") + authority),
            ("connection-specific field", RawFrame.requestBlock(extra: [("connection", "keep-alive")])),
            ("transfer-encoding", RawFrame.requestBlock(extra: [("transfer-encoding", "chunked")])),
            ("te other than trailers", RawFrame.requestBlock(extra: [("te", "gzip")])),
            ("space in a name", RawFrame.requestBlock(extra: [("x y", "1")])),
            ("leading space in a value", RawFrame.requestBlock(extra: [("x-v", " v")])),
            ("NUL in a value", RawFrame.requestBlock(extra: [("x-v", "a\u{0}b")])),
            ("duplicate :path", RawFrame.requestBlock() + path),
            ("pseudo-header after a regular field", method + scheme + authority
                + RawFrame.literal(name: "x-a", value: "1") + path),
            ("response pseudo-header in a request", RawFrame.requestBlock() + RawFrame.literal(nameIndex: 8, value: "200")),
            ("unknown pseudo-header", RawFrame.requestBlock() + RawFrame.literal(name: ":foo", value: "1")),
        ]
        for (name, block) in cases {
            let raw = RawServer()
            raw.feed(RawFrame.clientStart)
            let outcome = raw.feed(RawFrame.frame(RawFrame.headers, flags: RawFrame.endHeaders | RawFrame.endStream,
                                                  stream: 1, block)
                + RawFrame.requestHeaders(stream: 3))
            raw.flush()
            XCTAssertEqual(outcome, .processed, name)
            XCTAssertEqual(raw.resets(of: 1), [HTTP2ErrorCode.protocolError.rawValue], name)
            XCTAssertEqual(raw.events.openedStreams, [HTTP2StreamID(3)], "only the valid request: \(name)")
            XCTAssertNil(raw.events.closeReason(of: HTTP2StreamID(1)), name)
            XCTAssertNil(raw.goAway, name)
            XCTAssertEqual(raw.session.openStreamCount, 1, "stream 1 released: \(name)")
        }
    }

    /// A body longer or shorter than content-length is malformed (RFC 9113 §8.1.1): the stream
    /// is reset and its end is never reported, so the proxy cannot complete a truncated body.
    func testContentLengthMismatchResetsTheStream() {
        for (declared, sent) in [(5, 3), (2, 3)] {
            let raw = RawServer()
            raw.feed(RawFrame.clientStart)
            raw.feed(RawFrame.requestHeaders(stream: 1, endStream: false, extra: [("content-length", "\(declared)")])
                + RawFrame.frame(RawFrame.data, flags: RawFrame.endStream, stream: 1, [UInt8](repeating: 7, count: sent)))
            raw.flush()
            XCTAssertEqual(raw.resets(of: 1), [HTTP2ErrorCode.protocolError.rawValue], "\(declared)/\(sent)")
            XCTAssertFalse(raw.events.ended(HTTP2StreamID(1)), "\(declared)/\(sent)")
            XCTAssertEqual(raw.events.closeReason(of: HTTP2StreamID(1)), .resetLocally(.protocolError))
        }
    }

    func testBadPrefaceFailsTheConnection() {
        let raw = RawServer()
        let outcome = raw.feed(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        XCTAssertEqual(outcome, .failed(HTTP2ConnectionError(code: .protocolError, reason: .badPreface)))
        raw.flush()
        XCTAssertEqual(raw.goAway?.errorCode, HTTP2ErrorCode.protocolError.rawValue)
        XCTAssertTrue(raw.session.isFinished)
        XCTAssertEqual(raw.feed(RawFrame.clientStart), outcome, "later input is ignored")
    }

    /// nghttp2 answers frame-level violations itself; the session reports them once the GOAWAY
    /// is produced.
    func testProtocolViolationsDetectedByNghttp2() {
        let cases: [(String, [UInt8], HTTP2ErrorCode)] = [
            ("DATA on stream 0", RawFrame.frame(RawFrame.data, stream: 0, [1]), .protocolError),
            ("frame over MAX_FRAME_SIZE", RawFrame.frame(RawFrame.data, stream: 1, [UInt8](repeating: 0, count: 16_385)),
             .frameSizeError),
            ("even stream id from a client", RawFrame.requestHeaders(stream: 2), .protocolError),
            ("window increment over 2^31-1", RawFrame.frame(RawFrame.windowUpdate, RawFrame.be32(0x7fff_ffff)),
             .flowControlError),
            // RFC 9113 §5.3.1: "A stream cannot depend on itself." (type 0x2 = PRIORITY; flag
            // 0x20 = PRIORITY on HEADERS: a 4-byte dependency and a weight before the block).
            ("PRIORITY depending on its own stream", RawFrame.frame(0x2, stream: 1, RawFrame.be32(1) + [16]),
             .protocolError),
            ("HEADERS depending on its own stream",
             RawFrame.frame(RawFrame.headers, flags: RawFrame.endHeaders | RawFrame.endStream | 0x20, stream: 1,
                            RawFrame.be32(1) + [16] + RawFrame.requestBlock()),
             .protocolError),
        ]
        for (name, bytes, code) in cases {
            let raw = RawServer()
            raw.feed(RawFrame.clientStart)
            XCTAssertEqual(raw.feed(bytes), .processed, name)
            raw.flush()
            XCTAssertEqual(raw.goAway?.errorCode, code.rawValue, name)
            XCTAssertEqual(raw.session.failure, HTTP2ConnectionError(code: code, reason: .protocolViolation), name)
            XCTAssertTrue(raw.session.isFinished, name)
        }
    }
}
