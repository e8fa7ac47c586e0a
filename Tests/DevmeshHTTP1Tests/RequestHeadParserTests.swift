import DevmeshHTTP1
import XCTest

/// Request heads: every row is fed whole, byte by byte and split in two at every position,
/// right before a guard page (see FeedingHarness.swift).
final class RequestHeadParserTests: XCTestCase {
    func testValidRequestLinesAndMethods() {
        runRequestRows([
            RequestRow("simple GET", "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
                       .ok(.init(method: .get, target: "/index.html", minor: 1, framing: RequestBodyFraming.none,
                                 keepAlive: true, expectContinue: false, upgrade: false, idempotent: true,
                                 host: "example.com", hopByHop: [], fields: ["Host: example.com"],
                                 startLineOffset: 0))),
            RequestRow("HEAD", "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", .ok(.init(method: .head, idempotent: true))),
            RequestRow("POST", "POST / HTTP/1.1\r\nHost: a\r\n\r\n", .ok(.init(method: .post, idempotent: false))),
            RequestRow("PUT", "PUT / HTTP/1.1\r\nHost: a\r\n\r\n", .ok(.init(method: .put, idempotent: true))),
            RequestRow("DELETE", "DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", .ok(.init(method: .delete, idempotent: true))),
            RequestRow("CONNECT authority-form", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
                       .ok(.init(method: .connect, target: "a.example:443", idempotent: false))),
            RequestRow("OPTIONS asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
                       .ok(.init(method: .options, target: "*", idempotent: true))),
            RequestRow("TRACE", "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", .ok(.init(method: .trace, idempotent: true))),
            RequestRow("PATCH", "PATCH / HTTP/1.1\r\nHost: a\r\n\r\n", .ok(.init(method: .patch, idempotent: false))),
            RequestRow("extension method", "PROPFIND /d HTTP/1.1\r\nHost: a\r\n\r\n",
                       .ok(.init(method: .other, idempotent: false))),
            RequestRow("methods are case-sensitive", "get / HTTP/1.1\r\nHost: a\r\n\r\n",
                       .ok(.init(method: .other, idempotent: false))),
            RequestRow("absolute-form target", "GET http://a.example/p?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n",
                       .ok(.init(target: "http://a.example/p?q=1"))),
            RequestRow("obs-text in target", "GET /caf\u{C3}\u{A9} HTTP/1.1\r\nHost: a\r\n\r\n",
                       .ok(.init(target: "/caf\u{C3}\u{A9}"))),
            RequestRow("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n",
                       .ok(.init(minor: 0, keepAlive: false, host: .some(nil), fields: []))),
            RequestRow("no fields at all, HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", .ok(.init(fields: []))),
            RequestRow("empty lines before the request line are skipped",
                       "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", .ok(.init(method: .get, startLineOffset: 4))),
        ])
    }

    func testFieldValuesAreTrimmedAndKept() {
        runRequestRows([
            RequestRow("OWS around values is not part of them", "GET / HTTP/1.1\r\nHost: a\r\nX-A: \t v \t\r\nX-B:v\r\n\r\n",
                       .ok(.init(fields: ["Host: a", "X-A: v", "X-B: v"]))),
            RequestRow("inner spaces and tabs stay", "GET / HTTP/1.1\r\nHost: a\r\nX: a  b\tc\r\n\r\n",
                       .ok(.init(fields: ["Host: a", "X: a  b\tc"]))),
            RequestRow("empty value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Blank:   \r\n\r\n",
                       .ok(.init(fields: ["Host: a", "X-Empty: ", "X-Blank: "]))),
            RequestRow("obs-text in a value is allowed", "GET / HTTP/1.1\r\nHost: a\r\nX: \u{80}\u{FF}\u{C3}\u{A9}\r\n\r\n",
                       .ok(.init(fields: ["Host: a", "X: \u{80}\u{FF}\u{C3}\u{A9}"]))),
            RequestRow("every tchar in a name", "GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
                       .ok(.init(fields: ["Host: a", "!#$%&'*+-.^_`|~09azAZ: v"]))),
            RequestRow("long value crossing many words", "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdef0123456789abcdef\r\n\r\n",
                       .ok(.init(fields: ["Host: a", "X: 0123456789abcdef0123456789abcdef"]))),
            RequestRow("Host may be empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", .ok(.init(host: ""))),
            RequestRow("Host with IP literal and port", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
                       .ok(.init(host: "[::1]:8080"))),
            RequestRow("Host index points at the Host field", "GET / HTTP/1.1\r\nX: 1\r\nhOsT: b.example\r\n\r\n",
                       .ok(.init(host: "b.example"))),
        ])
    }

    func testBodyFraming() {
        runRequestRows([
            RequestRow("Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
                       .ok(.init(framing: .contentLength(5)))),
            RequestRow("Content-Length 0", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
                       .ok(.init(framing: .contentLength(0)))),
            RequestRow("Content-Length with leading zeros and OWS", "POST / HTTP/1.1\r\nHost: a\r\ncontent-length:  007 \r\n\r\n",
                       .ok(.init(framing: .contentLength(7)))),
            RequestRow("largest Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n",
                       .ok(.init(framing: .contentLength(9_223_372_036_854_775_807)))),
            RequestRow("chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                       .ok(.init(framing: .chunked, hopByHop: []))),
            RequestRow("chunked, any case", "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: ChUnKeD\r\n\r\n",
                       .ok(.init(framing: .chunked))),
            RequestRow("empty list elements are ignored", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked ,\r\n\r\n",
                       .ok(.init(framing: .chunked))),
            RequestRow("no framing fields: no body", "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n",
                       .ok(.init(framing: RequestBodyFraming.none))),
        ])
    }

    func testConnectionPersistenceAndExpect() {
        runRequestRows([
            RequestRow("1.1 persists by default", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", .ok(.init(keepAlive: true))),
            RequestRow("1.1 with close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                       .ok(.init(keepAlive: false, hopByHop: ["connection"]))),
            RequestRow("close in any case, in a list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n",
                       .ok(.init(keepAlive: false))),
            RequestRow("close on a second Connection line", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
                       .ok(.init(keepAlive: false, hopByHop: ["connection", "connection"]))),
            RequestRow("1.0 closes by default", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", .ok(.init(keepAlive: false))),
            RequestRow("1.0 with keep-alive", "GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n",
                       .ok(.init(keepAlive: true, hopByHop: ["connection"]))),
            RequestRow("1.0 with keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
                       .ok(.init(keepAlive: false))),
            RequestRow("Expect: 100-continue", "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
                       .ok(.init(expectContinue: true, hopByHop: []))),
            RequestRow("Expect is case-insensitive", "PUT / HTTP/1.1\r\nHost: a\r\nexpect: 100-Continue\r\n\r\n",
                       .ok(.init(expectContinue: true))),
            RequestRow("other expectations are not 100-continue", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n",
                       .ok(.init(expectContinue: false))),
        ])
    }

    func testHopByHopMarking() {
        runRequestRows([
            RequestRow("connection-specific fields", "GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: timeout=5\r\n"
                       + "Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-Sum\r\nX-Keep: 1\r\n\r\n",
                       .ok(.init(hopByHop: ["keep-alive", "proxy-connection", "te"]))),
            RequestRow("Transfer-Encoding is forwarded", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n",
                       .ok(.init(framing: .chunked, hopByHop: ["te"]))),
            RequestRow("a field named in Connection after it", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Foo\r\nX-Foo: 1\r\nX-Bar: 2\r\n\r\n",
                       .ok(.init(keepAlive: false, hopByHop: ["connection", "x-foo"]))),
            RequestRow("a field named in Connection before it", "GET / HTTP/1.1\r\nX-Secret: s\r\nHost: a\r\nConnection: X-Secret\r\n\r\n",
                       .ok(.init(keepAlive: true, hopByHop: ["x-secret", "connection"]))),
            RequestRow("names compared ignoring case on both sides", "GET / HTTP/1.1\r\nHost: a\r\nx-FOO: 1\r\nConnection: X-foo\r\n\r\n",
                       .ok(.init(hopByHop: ["x-foo", "connection"]))),
            RequestRow("several Connection lines and repeated fields", "GET / HTTP/1.1\r\nHost: a\r\nConnection: x-a\r\n"
                       + "X-A: 1\r\nX-B: 2\r\nConnection: x-b , ,x-c\r\nX-A: 3\r\nX-C: 4\r\nX-D: 5\r\n\r\n",
                       .ok(.init(hopByHop: ["connection", "x-a", "x-b", "connection", "x-a", "x-c"]))),
            RequestRow("Connection cannot remove framing, Host or trace context",
                       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nbaggage: sd-routing-key=k\r\ntracestate: a=b\r\n"
                       + "traceparent: 00-1-2-01\r\nuberctx-sd-routing-key: k\r\not-baggage-sd-routing-key: k\r\n"
                       + "baggage-sd-routing-key: k\r\nConnection: content-length, host, baggage, tracestate, traceparent, "
                       + "uberctx-sd-routing-key, ot-baggage-sd-routing-key, baggage-sd-routing-key\r\n\r\n",
                       .ok(.init(framing: .contentLength(2), host: "a", hopByHop: ["connection"]))),
            RequestRow("Connection cannot remove Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                       + "Connection: transfer-encoding\r\n\r\n", .ok(.init(framing: .chunked, hopByHop: ["connection"]))),
        ])
    }

    func testUpgrade() {
        runRequestRows([
            RequestRow("WebSocket upgrade keeps Upgrade and Connection",
                       "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
                       .ok(.init(upgrade: true, hopByHop: []))),
            RequestRow("WebSocket upgrade, case and version suffix",
                       "GET /ws HTTP/1.1\r\nHost: a\r\nupgrade: WebSocket/13\r\nconnection: keep-alive, UPGRADE\r\n\r\n",
                       .ok(.init(upgrade: true, hopByHop: []))),
            RequestRow("WebSocket upgrade still drops other connection-specific fields",
                       "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, X-Foo\r\nUpgrade: websocket\r\nX-Foo: 1\r\nKeep-Alive: 5\r\n\r\n",
                       .ok(.init(upgrade: true, hopByHop: ["x-foo", "keep-alive"]))),
            RequestRow("h2c is not an upgrade: its fields are dropped",
                       "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
                       .ok(.init(upgrade: false, hopByHop: ["connection", "upgrade", "http2-settings"]))),
            RequestRow("Upgrade without the Connection token", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
                       .ok(.init(upgrade: false, hopByHop: ["upgrade"]))),
            RequestRow("Connection: upgrade without Upgrade", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n",
                       .ok(.init(upgrade: false, hopByHop: ["connection"]))),
            RequestRow("WebSocket needs GET", "POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
                       .ok(.init(upgrade: false, hopByHop: ["connection", "upgrade"]))),
            RequestRow("Upgrade is ignored in HTTP/1.0", "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
                       .ok(.init(upgrade: false, hopByHop: ["connection", "upgrade"]))),
        ])
    }

    func testInvalidRequestLines() {
        runRequestRows([
            RequestRow("method with a non-token byte", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidMethod)),
            RequestRow("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidMethod)),
            RequestRow("tab after the method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidMethod)),
            RequestRow("two spaces before the target", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTarget)),
            RequestRow("control byte in the target", "GET /a\u{1}b HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTarget)),
            RequestRow("tab in the target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTarget)),
            RequestRow("DEL in the target", "GET /a\u{7F} HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTarget)),
            RequestRow("NUL in the target", "GET /\u{0} HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidTarget)),
            RequestRow("no version", "GET /\r\nHost: a\r\n\r\n", .error(.invalidRequestLine)),
            RequestRow("bare CR in the target", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", .error(.bareCR)),
            RequestRow("space after the version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", .error(.invalidRequestLine)),
            RequestRow("extra word", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", .error(.invalidRequestLine)),
            RequestRow("two spaces before the version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", .error(.invalidVersion)),
            RequestRow("lower-case protocol name", "GET / http/1.1\r\nHost: a\r\n\r\n", .error(.invalidVersion)),
            RequestRow("two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", .error(.invalidVersion)),
            RequestRow("no minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", .error(.invalidVersion)),
            RequestRow("letters for digits", "GET / HTTP/a.b\r\nHost: a\r\n\r\n", .error(.invalidVersion)),
            RequestRow("empty version", "GET / \r\nHost: a\r\n\r\n", .error(.invalidVersion)),
            RequestRow("HTTP/1.2 is not supported", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", .error(.unsupportedVersion)),
            RequestRow("HTTP/2.0 is not supported", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", .error(.unsupportedVersion)),
            RequestRow("HTTP/0.9 is not supported", "GET / HTTP/0.9\r\n\r\n", .error(.unsupportedVersion)),
            RequestRow("bare CR after the version", "GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n", .error(.bareCR)),
            RequestRow("TLS ClientHello on the plain port", "\u{16}\u{3}\u{1}\u{0}\u{A5}\u{1}\r\n\r\n", .error(.invalidMethod)),
        ])
    }

    func testInvalidFieldLines() {
        runRequestRows([
            RequestRow("non-token byte in a name", "GET / HTTP/1.1\r\nHost: a\r\nFo(o: x\r\n\r\n", .error(.invalidHeaderName)),
            RequestRow("obs-text in a name", "GET / HTTP/1.1\r\nHost: a\r\nF\u{E9}: x\r\n\r\n", .error(.invalidHeaderName)),
            RequestRow("empty name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", .error(.invalidHeaderName)),
            RequestRow("no colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n", .error(.invalidHeaderName)),
            RequestRow("space before the colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo : x\r\n\r\n", .error(.whitespaceBeforeColon)),
            RequestRow("tab before the colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo\t: x\r\n\r\n", .error(.whitespaceBeforeColon)),
            RequestRow("space before the colon of Content-Length",
                       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", .error(.whitespaceBeforeColon)),
            RequestRow("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", .error(.obsFold)),
            RequestRow("obs-fold with a tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", .error(.obsFold)),
            RequestRow("first field line starts with a space", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", .error(.obsFold)),
            RequestRow("bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", .error(.bareCR)),
            RequestRow("bare CR ending a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", .error(.bareCR)),
            RequestRow("bare CR in a name", "GET / HTTP/1.1\r\nHost: a\r\nX\rY: a\r\n\r\n", .error(.invalidHeaderName)),
            RequestRow("NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", .error(.invalidHeaderValue)),
            RequestRow("0x01 in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: \u{1}\r\n\r\n", .error(.invalidHeaderValue)),
            RequestRow("DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7F}\r\n\r\n", .error(.invalidHeaderValue)),
            RequestRow("ESC deep in a long value", "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdef\u{1B}x\r\n\r\n",
                       .error(.invalidHeaderValue)),
            RequestRow("bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", .error(.bareLF)),
            RequestRow("one bare LF among CRLFs", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", .error(.bareLF)),
            RequestRow("bare LF as the final empty line", "GET / HTTP/1.1\r\nHost: a\r\n\n", .error(.bareLF)),
            RequestRow("leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", .error(.bareLF)),
        ])
    }

    func testInvalidFraming() {
        runRequestRows([
            RequestRow("Content-Length then Transfer-Encoding",
                       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                       .error(.contentLengthWithTransferEncoding)),
            RequestRow("Transfer-Encoding then Content-Length",
                       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                       .error(.contentLengthWithTransferEncoding)),
            RequestRow("Transfer-Encoding on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                       .error(.transferEncodingOnHTTP10)),
            RequestRow("gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                       .error(.unsupportedTransferCoding)),
            RequestRow("gzip on its own line, then chunked",
                       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
                       .error(.unsupportedTransferCoding)),
            RequestRow("coding with parameters then chunked",
                       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo;q=1, chunked\r\n\r\n",
                       .error(.unsupportedTransferCoding)),
            RequestRow("chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                       .error(.chunkedNotFinal)),
            RequestRow("gzip alone", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", .error(.chunkedNotFinal)),
            RequestRow("chunked twice in a list", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                       .error(.chunkedTwice)),
            RequestRow("chunked twice on two lines",
                       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                       .error(.chunkedTwice)),
            RequestRow("parameters on chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n",
                       .error(.invalidTransferEncoding)),
            RequestRow("empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
                       .error(.invalidTransferEncoding)),
            RequestRow("only commas", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\r\n\r\n",
                       .error(.invalidTransferEncoding)),
            RequestRow("a space inside a coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chu nked\r\n\r\n",
                       .error(.invalidTransferEncoding)),
            RequestRow("a coding that is not a token", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
                       .error(.invalidTransferEncoding)),
            RequestRow("duplicate Content-Length in one line", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
                       .error(.duplicateContentLength)),
            RequestRow("duplicate identical Content-Length lines",
                       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                       .error(.duplicateContentLength)),
            RequestRow("different Content-Length lines",
                       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
                       .error(.duplicateContentLength)),
            RequestRow("Content-Length not digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
                       .error(.invalidContentLength)),
            RequestRow("empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", .error(.invalidContentLength)),
            RequestRow("Content-Length with a plus sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
                       .error(.invalidContentLength)),
            RequestRow("negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
                       .error(.invalidContentLength)),
            RequestRow("Content-Length with an inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n",
                       .error(.invalidContentLength)),
            RequestRow("hexadecimal Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
                       .error(.invalidContentLength)),
            RequestRow("leading comma", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,5\r\n\r\n", .error(.invalidContentLength)),
            RequestRow("Content-Length of 2^63", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n",
                       .error(.invalidContentLength)),
            RequestRow("Content-Length beyond UInt64", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                       .error(.invalidContentLength)),
        ])
    }

    func testHostRules() {
        runRequestRows([
            RequestRow("HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX: a\r\n\r\n", .error(.missingHost)),
            RequestRow("HTTP/1.1 without any field", "GET / HTTP/1.1\r\n\r\n", .error(.missingHost)),
            RequestRow("two Host lines", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", .error(.duplicateHost)),
            RequestRow("two Host lines in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", .error(.duplicateHost)),
            RequestRow("space inside Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", .error(.invalidHost)),
            RequestRow("path in Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", .error(.invalidHost)),
            RequestRow("userinfo in Host", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", .error(.invalidHost)),
            RequestRow("comma list in Host", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", .error(.invalidHost)),
            RequestRow("obs-text in Host", "GET / HTTP/1.1\r\nHost: \u{E9}\r\n\r\n", .error(.invalidHost)),
        ])
    }

    // MARK: Limits, exactly at and one past

    /// A request of exactly `size` bytes: the padding goes into one field value.
    private func request(ofSize size: Int) -> String {
        let skeleton = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \r\n\r\n"
        return "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + String(repeating: "p", count: size - skeleton.utf8.count) + "\r\n\r\n"
    }

    func testHeadSizeLimit() {
        let limits = HTTP1Limits(maxHeadBytes: 120)
        runRequestRows([
            RequestRow("head of exactly maxHeadBytes", request(ofSize: 120), .ok(.init(method: .get)), limits: limits),
            RequestRow("head one byte over maxHeadBytes", request(ofSize: 121), .error(.headTooLarge), limits: limits),
            RequestRow("empty lines before the request line count", "\r\n" + request(ofSize: 119),
                       .error(.headTooLarge), limits: limits),
        ])
    }

    func testHeadSizeLimitFailsBeforeTheHeadEnds() {
        // A head that never ends: the parse must fail as soon as maxHeadBytes bytes are buffered.
        let limits = HTTP1Limits(maxHeadBytes: 64)
        let storage = HeaderStorage(capacity: limits.maxHeaderCount)
        let memory = GuardedMemory()
        let endless = latin1("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 100))
        var hint = 0
        for length in 1...endless.count {
            let result = memory.withGuarded(endless[0..<length]) {
                RequestHeadParser.parse($0, into: storage, limits: limits, scanFrom: &hint)
            }
            switch result {
            case .incomplete:
                XCTAssertLessThan(length, 64, "still incomplete with \(length) bytes buffered")
            case .invalid(let error):
                XCTAssertEqual(error, .headTooLarge)
                XCTAssertEqual(length, 64, "failed at \(length) bytes")
                return
            case .complete:
                XCTFail("an endless head completed")
                return
            }
        }
        XCTFail("never failed")
    }

    func testHeaderCountLimit() {
        let limits = HTTP1Limits(maxHeaderCount: 3)
        runRequestRows([
            RequestRow("exactly maxHeaderCount fields", "GET / HTTP/1.1\r\nHost: a\r\nX-1: 1\r\nX-2: 2\r\n\r\n",
                       .ok(.init(fields: ["Host: a", "X-1: 1", "X-2: 2"])), limits: limits),
            RequestRow("one field more", "GET / HTTP/1.1\r\nHost: a\r\nX-1: 1\r\nX-2: 2\r\nX-3: 3\r\n\r\n",
                       .error(.tooManyHeaders), limits: limits),
        ])
    }

    // MARK: Incremental behaviour

    func testHintResumesTheScanAndResetsAfterACompleteHead() {
        let storage = HeaderStorage()
        let memory = GuardedMemory()
        let head = latin1("GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789\r\n\r\n")
        var hint = 0
        let partial = memory.withGuarded(head[0..<20]) {
            RequestHeadParser.parse($0, into: storage, limits: HTTP1Limits(), scanFrom: &hint)
        }
        guard case .incomplete = partial else { return XCTFail("expected incomplete, got \(partial)") }
        XCTAssertEqual(hint, 20, "the scan remembers it looked at all 20 bytes")
        let complete = memory.withGuarded(head) {
            RequestHeadParser.parse($0, into: storage, limits: HTTP1Limits(), scanFrom: &hint)
        }
        guard case .complete(let parsed) = complete else { return XCTFail("expected complete, got \(complete)") }
        XCTAssertEqual(parsed.headLength, head.count)
        XCTAssertEqual(hint, 0, "the hint is ready for the next message")
    }

    func testHeadLengthStopsAtTheBlankLineAndBodyBytesFollow() {
        let storage = HeaderStorage()
        let memory = GuardedMemory()
        let head = "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n"
        let input = latin1(head + "body" + "GET / HTTP/1.1\r\n")
        var hint = 0
        let result = memory.withGuarded(input) { buffer -> Int? in
            guard case .complete(let parsed) = RequestHeadParser.parse(buffer, into: storage, limits: HTTP1Limits(),
                                                                       scanFrom: &hint) else { return nil }
            XCTAssertEqual(parsed.framing, .contentLength(4))
            return parsed.headLength
        }
        XCTAssertEqual(result, head.utf8.count)
    }

    func testEmptyBufferIsIncomplete() {
        var hint = 0
        let result = RequestHeadParser.parse(UnsafeRawBufferPointer(start: nil, count: 0), into: HeaderStorage(),
                                             limits: HTTP1Limits(), scanFrom: &hint)
        guard case .incomplete = result else { return XCTFail("got \(result)") }
    }
}
