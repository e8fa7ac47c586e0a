import DevmeshHTTP2
import XCTest

/// RFC 9113 §8, one row per rule: what a request (server role) or a response (client role)
/// that breaks it becomes, and the counterpart that keeps it. Every row also runs against
/// nghttp2's own checks (`assertRule`), which must agree.
final class MessageRuleTests: XCTestCase {
    private static let base = [RawField(":method", "GET"), RawField(":scheme", "http"),
                               RawField(":authority", "svc.local"), RawField(":path", "/")]

    private func without(_ name: String) -> [RawField] {
        Self.base.filter { $0.name != Array(name.utf8) }
    }

    private func request(_ fields: [RawField], endStream: Bool = true) -> [UInt8] {
        RawFrame.headers(stream: 1, fields, endStream: endStream)
    }

    // MARK: Requests

    func testRequestHeadRules() {
        let base = Self.base
        let rows: [(String, [RawField], Expected)] = [
            ("valid request", base, .delivered),
            // §8.2.1 field names and values.
            ("upper-case name", base + [RawField("X-Upper", "1")], .malformed),
            ("space in a name", base + [RawField("x y", "1")], .invalidField),
            ("empty name", base + [RawField("", "1")], .invalidField),
            ("non-token byte in a name", base + [RawField("x\"y", "1")], .invalidField),
            ("NUL in a value", base + [RawField("x-v", "a\u{0}b")], .invalidField),
            ("CR in a value", base + [RawField("x-v", "a\rb")], .invalidField),
            ("LF in a value", base + [RawField("x-v", "a\nb")], .invalidField),
            ("DEL in a value", base + [RawField("x-v", "a\u{7f}b")], .invalidField),
            ("other control byte in a value", base + [RawField("x-v", "a\u{1}b")], .invalidField),
            ("leading space in a value", base + [RawField("x-v", " v")], .invalidField),
            ("trailing tab in a value", base + [RawField("x-v", "v\t")], .invalidField),
            ("inner space and tab in a value", base + [RawField("x-v", "a b\tc")], .delivered),
            ("obs-text in a value", base + [RawField([0x78], [0x61, 0xC3, 0xA9])], .delivered),
            ("empty value", base + [RawField("x-v", "")], .delivered),
            ("every other tchar in a name", base + [RawField("!#$%&'*+-.^_`|~09az", "1")], .delivered),
            // §8.2.2 connection-specific fields.
            ("connection", base + [RawField("connection", "keep-alive")], .malformed),
            ("keep-alive", base + [RawField("keep-alive", "timeout=5")], .malformed),
            ("proxy-connection", base + [RawField("proxy-connection", "close")], .malformed),
            ("transfer-encoding", base + [RawField("transfer-encoding", "chunked")], .malformed),
            ("upgrade", base + [RawField("upgrade", "websocket")], .malformed),
            ("connection with an invalid value", base + [RawField("connection", "a\u{0}")], .invalidField),
            ("te other than trailers", base + [RawField("te", "gzip")], .malformed),
            ("te: trailers", base + [RawField("te", "trailers")], .delivered),
            ("te: TRAILERS (case-insensitive)", base + [RawField("te", "TRAILERS")], .delivered),
            // §8.3 pseudo-header fields.
            ("missing :method", without(":method"), .malformed),
            ("missing :scheme", without(":scheme"), .malformed),
            ("missing :path", without(":path"), .malformed),
            ("no :authority and no host", without(":authority"), .malformed),
            ("host instead of :authority", without(":authority") + [RawField("host", "svc.local")], .delivered),
            ("duplicate :method", base + [RawField(":method", "GET")], .malformed),
            ("duplicate :scheme", base + [RawField(":scheme", "http")], .malformed),
            ("duplicate :authority", base + [RawField(":authority", "svc.local")], .malformed),
            ("duplicate :path", base + [RawField(":path", "/")], .malformed),
            ("empty :path", without(":path") + [RawField(":path", "")], .malformed),
            ("empty :method", without(":method") + [RawField(":method", "")], .malformed),
            ("empty :authority", without(":authority") + [RawField(":authority", "")], .malformed),
            ("space in :path", without(":path") + [RawField(":path", "/a b")], .malformed),
            ("space in :method", without(":method") + [RawField(":method", "G T")], .malformed),
            ("slash in :authority", without(":authority") + [RawField(":authority", "a/b")], .malformed),
            ("scheme starting with a digit", without(":scheme") + [RawField(":scheme", "1http")], .malformed),
            ("pseudo-header after a regular field", [base[0], RawField("x-a", "1")] + base[1...], .malformed),
            ("unknown pseudo-header", base + [RawField(":foo", "1")], .malformed),
            ("response pseudo-header in a request", base + [RawField(":status", "200")], .malformed),
            ("extended CONNECT's :protocol (not enabled)", base + [RawField(":protocol", "websocket")], .malformed),
            ("upper-case pseudo-header name", without(":path") + [RawField(":Path", "/")], .malformed),
            // :path forms (§8.3.1) by scheme and method.
            ("* for OPTIONS", [RawField(":method", "OPTIONS"), RawField(":scheme", "http"),
                               RawField(":authority", "a"), RawField(":path", "*")], .delivered),
            ("* for GET", without(":path") + [RawField(":path", "*")], .malformed),
            ("http path not starting with /", without(":path") + [RawField(":path", "a/b")], .malformed),
            ("any path for another scheme", [RawField(":method", "GET"), RawField(":scheme", "urn"),
                                             RawField(":authority", "a"), RawField(":path", "x:y")], .delivered),
            ("HTTPS in upper case still needs /", [RawField(":method", "GET"), RawField(":scheme", "HTTPS"),
                                                   RawField(":authority", "a"), RawField(":path", "x")], .malformed),
            // §8.5 CONNECT.
            ("CONNECT with :authority only", [RawField(":method", "CONNECT"), RawField(":authority", "a:443")],
             .delivered),
            ("CONNECT with :path", [RawField(":method", "CONNECT"), RawField(":authority", "a:443"),
                                    RawField(":path", "/")], .malformed),
            ("CONNECT with :scheme", [RawField(":method", "CONNECT"), RawField(":authority", "a:443"),
                                      RawField(":scheme", "http")], .malformed),
            ("CONNECT without :authority", [RawField(":method", "CONNECT"), RawField("host", "a:443")], .malformed),
            // host (§8.3.1: must agree with :authority, which nghttp2 did not check; checked
            // like :authority instead).
            ("two host fields", base + [RawField("host", "a"), RawField("host", "a")], .malformed),
            ("empty host", base + [RawField("host", "")], .malformed),
            ("slash in host", base + [RawField("host", "a/b")], .invalidField),
            // content-length (RFC 9110 §8.6).
            ("content-length with END_STREAM and no body", base + [RawField("content-length", "0")], .delivered),
            ("content-length over an empty body", base + [RawField("content-length", "5")], .malformed),
            ("two content-length fields, same value", base + [RawField("content-length", "0"),
                                                             RawField("content-length", "0")], .malformed),
            ("content-length not a number", base + [RawField("content-length", "1a")], .malformed),
            ("content-length as a list", base + [RawField("content-length", "1,1")], .malformed),
            ("content-length over 2^63-1", base + [RawField("content-length", "9223372036854775808")], .malformed),
            ("content-length with leading zeros", base + [RawField("content-length", "0000")], .delivered),
            ("content-length with a leading space", base + [RawField("content-length", " 0")], .invalidField),
        ]
        for (name, fields, expected) in rows {
            assertRule(name, .server, request(fields), expected)
        }
    }

    func testRequestBodyAndTrailerRules() {
        let post = [RawField(":method", "POST"), RawField(":scheme", "http"), RawField(":authority", "a"),
                    RawField(":path", "/")]
        let sized = post + [RawField("content-length", "5")]
        let rows: [(String, [UInt8], Expected)] = [
            ("body as long as content-length", request(sized, endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 5, endStream: true), .delivered),
            ("body longer than content-length", request(sized, endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 6, endStream: false), .resetAfterHead),
            ("body shorter than content-length", request(sized, endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 4, endStream: true), .resetAfterHead),
            ("body cut short by trailers", request(sized, endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 4, endStream: false)
                + RawFrame.headers(stream: 1, [RawField("x-t", "1")], endStream: true), .resetAfterHead),
            ("a CONNECT body is not sized", request([RawField(":method", "CONNECT"), RawField(":authority", "a:1"),
                                                     RawField("content-length", "1")], endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 9, endStream: true), .delivered),
            ("trailers ending the stream", request(post, endStream: false)
                + RawFrame.headers(stream: 1, [RawField("x-t", "1")], endStream: true), .delivered),
            ("trailers without END_STREAM", request(post, endStream: false)
                + RawFrame.headers(stream: 1, [RawField("x-t", "1")], endStream: false), .resetAfterHead),
            ("pseudo-header in trailers", request(post, endStream: false)
                + RawFrame.headers(stream: 1, [RawField(":path", "/")], endStream: true), .resetAfterHead),
            ("connection-specific field in trailers", request(post, endStream: false)
                + RawFrame.headers(stream: 1, [RawField("connection", "close")], endStream: true), .resetAfterHead),
            ("second content-length in trailers", request(sized, endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 5, endStream: false)
                + RawFrame.headers(stream: 1, [RawField("content-length", "5")], endStream: true), .resetAfterHead),
        ]
        for (name, bytes, expected) in rows {
            assertRule(name, .server, bytes, expected)
        }
    }

    // MARK: Responses

    private func response(_ fields: [RawField], endStream: Bool = true) -> [UInt8] {
        RawFrame.headers(stream: 1, fields, endStream: endStream)
    }

    func testResponseRules() {
        let get = ScriptRole.client(request: getRequest(), endStream: true)
        let head = ScriptRole.client(request: [Field(":method", "HEAD"), Field(":scheme", "http"),
                                               Field(":authority", "a"), Field(":path", "/")], endStream: true)
        let connect = ScriptRole.client(request: [Field(":method", "CONNECT"), Field(":authority", "a:443")],
                                        endStream: false)
        let ok = [RawField(":status", "200")]
        let rows: [(String, ScriptRole, [UInt8], Expected)] = [
            ("valid response", get, response(ok), .delivered),
            ("missing :status", get, response([RawField("x-a", "1")]), .malformed),
            ("duplicate :status", get, response(ok + ok), .malformed),
            ("two-digit :status", get, response([RawField(":status", "20")]), .malformed),
            ("four-digit :status", get, response([RawField(":status", "2000")]), .malformed),
            ("non-digit :status", get, response([RawField(":status", "2x0")]), .malformed),
            ("101 (no Upgrade in HTTP/2)", get, response([RawField(":status", "101")]), .malformed),
            ("request pseudo-header in a response", get, response(ok + [RawField(":path", "/")]), .malformed),
            ("pseudo-header after a regular field", get, response([RawField("x-a", "1")] + ok), .malformed),
            ("upper-case name", get, response(ok + [RawField("X-A", "1")]), .malformed),
            ("CR in a value", get, response(ok + [RawField("x-a", "1\r")]), .invalidField),
            ("transfer-encoding", get, response(ok + [RawField("transfer-encoding", "chunked")]), .malformed),
            ("host is an ordinary field in a response", get, response(ok + [RawField("host", "a b")]), .delivered),
            // 1xx (RFC 9110 §15.2): interim responses, then a final one.
            ("100 then 200", get, response([RawField(":status", "100")], endStream: false) + response(ok), .delivered),
            ("103 with END_STREAM", get, response([RawField(":status", "103")]), .malformed),
            ("DATA after a 1xx", get, response([RawField(":status", "100")], endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 1, endStream: true), .resetAfterHead),
            ("content-length in a 1xx", get, response([RawField(":status", "100"), RawField("content-length", "0")],
                                                      endStream: false), .malformed),
            // content-length and bodies.
            ("body as long as content-length", get, response(ok + [RawField("content-length", "3")], endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 3, endStream: true), .delivered),
            ("body longer than content-length", get, response(ok + [RawField("content-length", "3")], endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 4, endStream: true), .resetAfterHead),
            ("body shorter than content-length", get, response(ok + [RawField("content-length", "3")], endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 2, endStream: true), .resetAfterHead),
            ("two content-length fields", get, response(ok + [RawField("content-length", "0"),
                                                              RawField("content-length", "0")]), .malformed),
            ("204 with content-length: 0 (dropped)", get, response([RawField(":status", "204"),
                                                                    RawField("content-length", "0")]), .delivered),
            ("204 with content-length: 5", get, response([RawField(":status", "204"),
                                                          RawField("content-length", "5")]), .malformed),
            ("204 with a body", get, response([RawField(":status", "204")], endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 1, endStream: true), .resetAfterHead),
            ("304 with content-length and no body", get, response([RawField(":status", "304"),
                                                                   RawField("content-length", "10")]), .delivered),
            ("HEAD answered with content-length and no body", head, response(ok + [RawField("content-length", "10")]),
             .delivered),
            ("HEAD answered with a body", head, response(ok, endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 1, endStream: true), .resetAfterHead),
            ("CONNECT 200: content-length dropped, tunnel of any length", connect,
             response(ok + [RawField("content-length", "1")], endStream: false)
                + RawFrame.dataFrame(stream: 1, count: 5, endStream: true), .delivered),
            // Trailers.
            ("trailers ending the stream", get, response(ok, endStream: false)
                + RawFrame.headers(stream: 1, [RawField("grpc-status", "0")], endStream: true), .delivered),
            ("trailers without END_STREAM", get, response(ok, endStream: false)
                + RawFrame.headers(stream: 1, [RawField("grpc-status", "0")], endStream: false), .resetAfterHead),
            ("pseudo-header in trailers", get, response(ok, endStream: false)
                + RawFrame.headers(stream: 1, ok, endStream: true), .resetAfterHead),
        ]
        for (name, role, bytes, expected) in rows {
            assertRule(name, role, bytes, expected)
        }
    }

    /// The 204's dropped content-length is not passed on (nghttp2 removed it too).
    func testContentLengthOfA204IsNotDelivered() {
        let role = ScriptRole.client(request: getRequest(), endStream: true)
        let seen = observe(role, RawFrame.headers(stream: 1, [RawField(":status", "204"), RawField("content-length", "0"),
                                                             RawField("x-a", "1")], endStream: true), library: false)
        XCTAssertEqual(seen.events.first, .headers(HTTP2StreamID(1), .response,
                                                   [Field(":status", "204"), Field("x-a", "1")], endStream: true))
    }
}
