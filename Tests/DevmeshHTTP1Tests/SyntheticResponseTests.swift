import DevmeshHTTP1
import XCTest

/// The proxy's own responses: exact bytes for one, and for every status a round trip through
/// the response parser (so they are valid HTTP/1.1 by our own strict rules).
final class SyntheticResponseTests: XCTestCase {
    private let memory = GuardedMemory()

    private func written(_ status: SyntheticStatus, detail: StaticString = "", close: Bool, omitBody: Bool = false,
                         capacity: Int = SyntheticResponse.recommendedCapacity) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: capacity)
        return memory.withGuardedMutable(bytes, headroom: 0, filler: 0) { buffer -> [UInt8]? in
            guard let count = SyntheticResponse.write(status, detail: detail, closeConnection: close,
                                                      omitBody: omitBody, into: buffer) else { return nil }
            bytes = Array(buffer[0..<count])
            return bytes
        }
    }

    func testExactBytes() {
        XCTAssertEqual(written(.badGateway, detail: "upstream refused", close: true).map { String(decoding: $0, as: UTF8.self) },
                       "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 30\r\n"
                           + "connection: close\r\n\r\nBad Gateway: upstream refused\n")
        XCTAssertEqual(written(.notFound, close: false).map { String(decoding: $0, as: UTF8.self) },
                       "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 10\r\n\r\nNot Found\n")
    }

    func testEveryStatusParsesBack() {
        let storage = HeaderStorage()
        for status in SyntheticStatus.allCases {
            for close in [false, true] {
                for omitBody in [false, true] {
                    guard let bytes = written(status, detail: "http1.cl_and_te", close: close, omitBody: omitBody) else {
                        XCTFail("\(status) did not fit the recommended capacity")
                        continue
                    }
                    memory.withGuarded(bytes) { buffer in
                        var hint = 0
                        let parsed = ResponseHeadParser.parse(buffer, into: storage, limits: HTTP1Limits(),
                                                              requestMethod: omitBody ? .head : .get, scanFrom: &hint)
                        guard case .complete(let head) = parsed else { return XCTFail("\(status): \(parsed)") }
                        XCTAssertEqual(head.status, status.rawValue)
                        XCTAssertEqual(head.reason.latin1String, "\(status.reasonPhrase)")
                        XCTAssertEqual(head.keepAlive, !close, "\(status) close=\(close)")
                        let body = Array(buffer[head.headLength...])
                        let announced = "\(status.reasonPhrase): http1.cl_and_te\n".utf8.count
                        XCTAssertEqual(body.count, omitBody ? 0 : announced)
                        let lengthField = storage.fields.first { $0.name.latin1String == "content-length" }
                        XCTAssertEqual(lengthField?.value.latin1String, "\(announced)")
                        if !omitBody {
                            XCTAssertEqual(head.framing, .contentLength(UInt64(announced)))
                        }
                    }
                }
            }
        }
    }

    func testTooSmallBuffersAreReportedNotOverrun() {
        guard let full = written(.requestHeaderFieldsTooLarge, detail: "http1.too_many_headers", close: true) else {
            return XCTFail("did not fit")
        }
        // Every smaller capacity must fail cleanly; the guard page catches any write past the end.
        for capacity in 0..<full.count {
            XCTAssertNil(written(.requestHeaderFieldsTooLarge, detail: "http1.too_many_headers", close: true,
                                 capacity: capacity), "capacity \(capacity)")
        }
        XCTAssertEqual(written(.requestHeaderFieldsTooLarge, detail: "http1.too_many_headers", close: true,
                               capacity: full.count), full)
    }

    func testErrorsMapToTheirResponses() {
        for error in HTTP1Error.allCases {
            XCTAssertEqual(error.syntheticStatus.rawValue, error.status, "\(error)")
            XCTAssertTrue(error.slug.description.hasPrefix("http1."), "\(error)")
        }
        XCTAssertEqual(Set(HTTP1Error.allCases.map { $0.slug.description }).count, HTTP1Error.allCases.count,
                       "slugs are unique")
        XCTAssertEqual(HTTP1Error.headTooLarge.status, 431)
        XCTAssertEqual(HTTP1Error.tooManyHeaders.status, 431)
        XCTAssertEqual(HTTP1Error.unsupportedVersion.status, 505)
        XCTAssertEqual(HTTP1Error.unsupportedTransferCoding.status, 501)
        XCTAssertEqual(HTTP1Error.contentLengthWithTransferEncoding.status, 400)
    }
}
