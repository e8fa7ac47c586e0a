import DevmeshHTTP1
import XCTest

/// Response heads, fed every way like requests (see FeedingHarness.swift).
final class ResponseHeadParserTests: XCTestCase {
    struct Summary: Equatable {
        var status: UInt16
        var reason: String
        var versionMinor: UInt8
        var framing: ResponseBodyFraming
        var keepAlive: Bool
        var isInterim: Bool
        var switchingProtocols: Bool
        var hopByHop: [String]
    }

    struct Expect: Sendable {
        var status: UInt16?
        var reason: String?
        var minor: UInt8?
        var framing: ResponseBodyFraming?
        var keepAlive: Bool?
        var interim: Bool?
        var switching: Bool?
        var hopByHop: [String]?

        init(status: UInt16? = nil, reason: String? = nil, minor: UInt8? = nil, framing: ResponseBodyFraming? = nil,
             keepAlive: Bool? = nil, interim: Bool? = nil, switching: Bool? = nil, hopByHop: [String]? = nil) {
            self.status = status
            self.reason = reason
            self.minor = minor
            self.framing = framing
            self.keepAlive = keepAlive
            self.interim = interim
            self.switching = switching
            self.hopByHop = hopByHop
        }
    }

    struct Row: Sendable {
        var name: String
        var input: [UInt8]
        var method: HTTPMethod
        var expected: Expected<Expect>

        init(_ name: String, _ input: String, method: HTTPMethod = .get, _ expected: Expected<Expect>) {
            self.name = name
            self.input = latin1(input)
            self.method = method
            self.expected = expected
        }
    }

    private func run(_ rows: [Row], file: StaticString = #filePath, line: UInt = #line) {
        let memory = GuardedMemory()
        let storage = HeaderStorage()
        for row in rows {
            let result = feedHeadAllWays(row.input, memory: memory, row: row.name, file: file, line: line) {
                buffer, hint -> HeadResult<Summary> in
                switch ResponseHeadParser.parse(buffer, into: storage, limits: HTTP1Limits(), requestMethod: row.method,
                                                scanFrom: &hint) {
                case .incomplete:
                    return .incomplete
                case .invalid(let error):
                    XCTAssertEqual(storage.count, 0)
                    return .invalid(error)
                case .complete(let head):
                    XCTAssertEqual(head.headLength, buffer.count, "\(row.name): headLength")
                    XCTAssertEqual(head.headerCount, storage.count)
                    checkLineLayout(storage, buffer: buffer, fieldsStart: nil, headLength: head.headLength)
                    let hop = zip(storage.fields, storage.lines).filter { $0.1.hopByHop }
                        .map { $0.0.name.latin1String.lowercased() }
                    XCTAssertEqual(head.hopByHopCount, hop.count)
                    return .complete(Summary(status: head.status, reason: head.reason.latin1String,
                                             versionMinor: head.versionMinor, framing: head.framing,
                                             keepAlive: head.keepAlive, isInterim: head.isInterim,
                                             switchingProtocols: head.switchingProtocols, hopByHop: hop))
                }
            }
            switch (row.expected, result) {
            case (.ok(let expect), .complete(let summary)):
                func same<T: Equatable>(_ expected: T?, _ actual: T, _ what: String) {
                    if let expected { XCTAssertEqual(actual, expected, "\(row.name): \(what)", file: file, line: line) }
                }
                same(expect.status, summary.status, "status")
                same(expect.reason, summary.reason, "reason")
                same(expect.minor, summary.versionMinor, "version")
                same(expect.framing, summary.framing, "framing")
                same(expect.keepAlive, summary.keepAlive, "keepAlive")
                same(expect.interim, summary.isInterim, "isInterim")
                same(expect.switching, summary.switchingProtocols, "switchingProtocols")
                same(expect.hopByHop, summary.hopByHop, "hop-by-hop")
            case (.error(let expected), .invalid(let actual)):
                XCTAssertEqual(actual, expected, "\(row.name): wrong error", file: file, line: line)
            default:
                XCTFail("\(row.name): expected \(row.expected), got \(result)", file: file, line: line)
            }
        }
    }

    func testStatusLines() {
        run([
            Row("200 OK", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
                .ok(.init(status: 200, reason: "OK", minor: 1, framing: .contentLength(2), keepAlive: true,
                          interim: false, switching: false, hopByHop: []))),
            Row("reason with spaces and obs-text", "HTTP/1.1 404 Not \u{E9}Found\tat all\r\nContent-Length: 0\r\n\r\n",
                .ok(.init(status: 404, reason: "Not \u{E9}Found\tat all"))),
            Row("empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", .ok(.init(status: 200, reason: ""))),
            Row("no space before an empty reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
                .ok(.init(status: 200, reason: ""))),
            Row("lowest status", "HTTP/1.1 100 Continue\r\n\r\n", .ok(.init(status: 100, interim: true))),
            Row("highest status", "HTTP/1.1 599 Custom\r\nContent-Length: 0\r\n\r\n", .ok(.init(status: 599))),
            Row("HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", .ok(.init(minor: 0, keepAlive: false))),
            Row("status with two digits", "HTTP/1.1 20 OK\r\n\r\n", .error(.invalidStatusLine)),
            Row("status with four digits", "HTTP/1.1 2000 OK\r\n\r\n", .error(.invalidStatusLine)),
            Row("status below 100", "HTTP/1.1 099 Low\r\n\r\n", .error(.invalidStatusLine)),
            Row("status above 599", "HTTP/1.1 600 High\r\n\r\n", .error(.invalidStatusLine)),
            Row("status not digits", "HTTP/1.1 abc OK\r\n\r\n", .error(.invalidStatusLine)),
            Row("two spaces before the status", "HTTP/1.1  200 OK\r\n\r\n", .error(.invalidStatusLine)),
            Row("no status", "HTTP/1.1\r\n\r\n", .error(.invalidStatusLine)),
            Row("NUL in the reason", "HTTP/1.1 200 O\u{0}K\r\n\r\n", .error(.invalidStatusLine)),
            Row("bare CR in the reason", "HTTP/1.1 200 O\rK\r\n\r\n", .error(.bareCR)),
            Row("short version", "HTTP/2 200 OK\r\n\r\n", .error(.invalidVersion)),
            Row("not HTTP", "ICY 200 OK\r\n\r\n", .error(.invalidVersion)),
            Row("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", .error(.unsupportedVersion)),
            Row("empty status line", "\r\n\r\n", .error(.invalidVersion)),
        ])
    }

    func testFraming() {
        run([
            Row("Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", .ok(.init(framing: .contentLength(10)))),
            Row("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                .ok(.init(framing: .chunked, keepAlive: true, hopByHop: []))),
            Row("no length: until close, not reusable", "HTTP/1.1 200 OK\r\nX: y\r\n\r\n",
                .ok(.init(framing: .untilClose, keepAlive: false))),
            Row("reply to HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", method: .head,
                .ok(.init(framing: ResponseBodyFraming.none, keepAlive: true))),
            Row("chunked reply to HEAD has no body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method: .head,
                .ok(.init(framing: ResponseBodyFraming.none))),
            Row("204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", .ok(.init(framing: ResponseBodyFraming.none, keepAlive: true))),
            Row("304 has no body even with a length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
                .ok(.init(framing: ResponseBodyFraming.none, keepAlive: true))),
            Row("100 Continue is interim", "HTTP/1.1 100 Continue\r\n\r\n",
                .ok(.init(framing: ResponseBodyFraming.none, interim: true, switching: false))),
            Row("103 Early Hints is interim", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
                .ok(.init(framing: ResponseBodyFraming.none, interim: true))),
            Row("2xx to CONNECT is a tunnel", "HTTP/1.1 200 Connection Established\r\n\r\n", method: .connect,
                .ok(.init(framing: ResponseBodyFraming.none))),
            Row("non-2xx to CONNECT has a body", "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 3\r\n\r\n", method: .connect,
                .ok(.init(framing: .contentLength(3)))),
            Row("HTTP/1.0 with keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
                .ok(.init(keepAlive: true, hopByHop: ["connection"]))),
            Row("HTTP/1.0 with keep-alive but no length", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
                .ok(.init(framing: .untilClose, keepAlive: false))),
            Row("Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
                .ok(.init(keepAlive: false))),
        ])
    }

    func testHopByHop() {
        run([
            Row("connection-specific fields", "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nProxy-Connection: close\r\n"
                + "Connection: X-Internal\r\nX-Internal: 1\r\nTrailer: grpc-status\r\nTransfer-Encoding: chunked\r\n\r\n",
                .ok(.init(hopByHop: ["keep-alive", "proxy-connection", "connection", "x-internal"]))),
            Row("Upgrade on a 200 is dropped", "HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n",
                .ok(.init(hopByHop: ["upgrade"]))),
            Row("101 keeps Upgrade and Connection", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nKeep-Alive: 5\r\nSec-WebSocket-Accept: x\r\n\r\n",
                .ok(.init(framing: ResponseBodyFraming.none, interim: false, switching: true, hopByHop: ["keep-alive"]))),
        ])
    }

    func testUpstreamBugsAreRefused() {
        run([
            Row("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                .error(.contentLengthWithTransferEncoding)),
            Row("TE and CL on a 304", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                .error(.contentLengthWithTransferEncoding)),
            Row("duplicate CL", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
                .error(.duplicateContentLength)),
            Row("CL list", "HTTP/1.1 200 OK\r\nContent-Length: 3,3\r\n\r\n", .error(.duplicateContentLength)),
            Row("invalid CL", "HTTP/1.1 200 OK\r\nContent-Length: 3a\r\n\r\n", .error(.invalidContentLength)),
            Row("gzip framing", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .error(.unsupportedTransferCoding)),
            Row("gzip alone", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .error(.chunkedNotFinal)),
            Row("chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", .error(.chunkedTwice)),
            Row("TE on HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .error(.transferEncodingOnHTTP10)),
            Row("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n", .error(.obsFold)),
            Row("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\n", .error(.whitespaceBeforeColon)),
            Row("NUL in a value", "HTTP/1.1 200 OK\r\nX: \u{0}\r\n\r\n", .error(.invalidHeaderValue)),
            Row("bare CR in a value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", .error(.bareCR)),
            Row("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", .error(.bareLF)),
            Row("a Host in a response is not judged", "HTTP/1.1 200 OK\r\nHost: a b\r\nHost: c\r\nContent-Length: 0\r\n\r\n",
                .ok(.init(status: 200))),
        ])
    }
}
