import DevmeshBytes
import DevmeshHTTP1
import XCTest

/// The small classifiers the parsers rely on, checked against independent definitions.
final class ByteClassTests: XCTestCase {
    func testTokenCharMatchesRFC9110() {
        // RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
        // "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            XCTAssertEqual(ASCII.isTokenChar(byte), tchar.contains(byte), "byte \(byte)")
        }
    }

    func testEqualsIgnoringCase() {
        let rows: [(String, String, Bool)] = [
            ("X-Foo", "x-fOO", true), ("", "", true), ("a", "b", false), ("ab", "a", false),
            ("@", "`", false), ("[", "{", false), ("Z", "z", true),
        ]
        for (lhs, rhs, equal) in rows {
            let result = Array(lhs.utf8).withUnsafeBytes { left in
                Array(rhs.utf8).withUnsafeBytes { right in ASCII.equalsIgnoringCase(left, right) }
            }
            XCTAssertEqual(result, equal, "\(lhs) vs \(rhs)")
        }
    }

    func testKnownHeaderNames() {
        let rows: [(String, KnownHeader)] = [
            ("Host", .host), ("HOST", .host), ("content-length", .contentLength), ("Content-Length", .contentLength),
            ("Transfer-Encoding", .transferEncoding), ("connection", .connection), ("Keep-Alive", .keepAlive),
            ("Proxy-Connection", .proxyConnection), ("TE", .te), ("upgrade", .upgrade),
            ("HTTP2-Settings", .http2Settings), ("Expect", .expect), ("Trailer", .trailer),
            ("Hosts", .other), ("Hos", .other), ("content-lengtx", .other), ("X-Content-Length", .other),
            ("Trailers", .other), ("baggage", .other), ("te2", .other), ("Connectio_", .other),
        ]
        for (name, kind) in rows {
            XCTAssertEqual(Array(name.utf8).withUnsafeBytes { KnownHeader(name: $0) }, kind, name)
        }
    }

    func testMethods() {
        let rows: [(String, HTTPMethod, Bool)] = [
            ("GET", .get, true), ("HEAD", .head, true), ("POST", .post, false), ("PUT", .put, true),
            ("DELETE", .delete, true), ("CONNECT", .connect, false), ("OPTIONS", .options, true),
            ("TRACE", .trace, true), ("PATCH", .patch, false), ("Get", .other, false), ("GETS", .other, false),
            ("PURGE", .other, false), ("", .other, false),
        ]
        for (token, method, idempotent) in rows {
            let parsed = Array(token.utf8).withUnsafeBytes { HTTPMethod($0) }
            XCTAssertEqual(parsed, method, token)
            XCTAssertEqual(parsed.isIdempotent, idempotent, token)
        }
    }
}
