import DevmeshBytes
@testable import DevmeshHTTP1
import XCTest

/// The encoder writes what our own strict parsers accept, with the fields that must cross a
/// translation and without the ones that must not.
final class HTTP1EncoderTests: XCTestCase {
    private func withFields<R>(_ pairs: [(String, String)], _ body: (UnsafeBufferPointer<HeaderField>) -> R) -> R {
        let block = HeaderBlock()
        for (name, value) in pairs {
            Array(name.utf8).withUnsafeBytes { n in Array(value.utf8).withUnsafeBytes { v in block.append(name: n, value: v) } }
        }
        return body(block.fields)
    }

    private func encode(_ write: (UnsafeMutableRawBufferPointer) -> Int?) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { write($0) }
        return count.map { Array(buffer[0..<$0]) }
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// A view of a literal (StaticString storage is static, so the view never dangles).
    private func raw(_ text: StaticString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
    }

    func testRequestHeadFromHTTP2Parts() throws {
        let fields: [(String, String)] = [
            (":method", "POST"), (":scheme", "http"), (":authority", "svc.local"), (":path", "/pkg.Svc/Call"),
            ("content-type", "application/grpc"), ("te", "trailers"), ("baggage", "sd-routing-key=abc"),
            ("connection", "keep-alive"), ("content-length", "7"), ("host", "other"),
        ]
        let encoded = try XCTUnwrap(withFields(fields) { list in
            encode { HTTP1Encoder.writeRequestHead(method: raw("POST"), target: raw("/pkg.Svc/Call"),
                                                   authority: raw("svc.local"),
                                                   fields: list, framing: .chunked, into: $0) }
        })
        XCTAssertEqual(String(decoding: encoded, as: UTF8.self),
                       "POST /pkg.Svc/Call HTTP/1.1\r\nhost: svc.local\r\ncontent-type: application/grpc\r\n"
                       + "te: trailers\r\nbaggage: sd-routing-key=abc\r\ntransfer-encoding: chunked\r\n\r\n")
        // And our strict parser takes it, with the framing it announces.
        let storage = HeaderStorage(capacity: 100)
        var hint = 0
        let parsed = encoded.withUnsafeBytes { RequestHeadParser.parse($0, into: storage, limits: HTTP1Limits(), scanFrom: &hint) }
        guard case .complete(let head) = parsed else { return XCTFail("\(parsed)") }
        XCTAssertEqual(head.framing, .chunked)
        XCTAssertEqual(head.headLength, encoded.count)
    }

    func testResponseHeadFramingAndConnectionField() throws {
        let fields: [(String, String)] = [(":status", "200"), ("content-type", "text/plain"),
                                          ("transfer-encoding", "chunked"), ("x-a", "1")]
        for (framing, connection, expectedTail) in [
            (HTTP1Encoder.Framing.contentLength(5), HTTP1Encoder.ConnectionField.none, "content-length: 5\r\n\r\n"),
            (.chunked, .close, "transfer-encoding: chunked\r\nconnection: close\r\n\r\n"),
            (.untilClose, .close, "connection: close\r\n\r\n"),
            (.none, .keepAlive, "connection: keep-alive\r\n\r\n"),
        ] {
            let encoded = try XCTUnwrap(withFields(fields) { list in
                encode { HTTP1Encoder.writeResponseHead(status: 200, fields: list, framing: framing,
                                                        connection: connection, into: $0) }
            })
            let text = String(decoding: encoded, as: UTF8.self)
            XCTAssertEqual(text, "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-a: 1\r\n" + expectedTail)
            let storage = HeaderStorage(capacity: 100)
            var hint = 0
            let parsed = encoded.withUnsafeBytes {
                ResponseHeadParser.parse($0, into: storage, limits: HTTP1Limits(), requestMethod: .get, scanFrom: &hint)
            }
            guard case .complete(let head) = parsed else { return XCTFail("\(text): \(parsed)") }
            XCTAssertEqual(head.status, 200)
        }
    }

    func testUnknownStatusGetsAnEmptyReason() throws {
        let encoded = try XCTUnwrap(withFields([]) { list in
            encode { HTTP1Encoder.writeResponseHead(status: 299, fields: list, framing: .none, connection: .none, into: $0) }
        })
        XCTAssertEqual(String(decoding: encoded, as: UTF8.self), "HTTP/1.1 299 \r\n\r\n")
    }

    func testChunksAndTrailersWalkBackThroughTheDecoder() throws {
        var body: [UInt8] = []
        for size in [1, 15, 16, 4096] {
            body += try XCTUnwrap(encode { HTTP1Encoder.writeChunkPrefix(size: size, into: $0) })
            body += [UInt8](repeating: 0x61, count: size)
            body += bytes("\r\n")
        }
        body += try XCTUnwrap(withFields([("grpc-status", "0"), ("grpc-message", "ok"), (":status", "x")]) { list in
            encode { HTTP1Encoder.writeLastChunk(trailers: list, into: $0) }
        })
        XCTAssertTrue(String(decoding: body.suffix(40), as: UTF8.self).hasSuffix("0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n"))
        var decoder = ChunkedDecoder()
        var payload = 0
        var input = body[...]
        var ended = false
        while !input.isEmpty, !ended {
            let step = input.withUnsafeBytes { decoder.advance($0) }
            switch step {
            case .data(let offset, let count): payload += count; input = input.dropFirst(offset + count)
            case .trailers(let offset, let count): input = input.dropFirst(offset + count)
            case .end(let consumed): input = input.dropFirst(consumed); ended = true
            case .needMore: input = []
            case .invalid(let error): return XCTFail("\(error)")
            }
        }
        XCTAssertTrue(ended)
        XCTAssertEqual(payload, 1 + 15 + 16 + 4096)
    }

    func testTooSmallBufferIsReportedNotOverrun() {
        withFields([("x-long", String(repeating: "v", count: 200))]) { list in
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = buffer.withUnsafeMutableBytes {
                HTTP1Encoder.writeResponseHead(status: 200, fields: list, framing: .none, connection: .none,
                                               into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<32]))
            }
            XCTAssertNil(count)
            XCTAssertTrue(buffer[32...].allSatisfy { $0 == 0 }, "wrote past the end it was given")
        }
    }
}
