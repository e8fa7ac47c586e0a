import DevmeshHTTP1
import XCTest

/// One walker for every framing: Content-Length, chunked, until close, none.
final class BodyFramerTests: XCTestCase {
    private let memory = GuardedMemory()

    /// Feeds `pieces` to `consume` and returns one result per piece.
    private func consume(_ framer: inout BodyFramer, _ pieces: [String]) -> [BodyProgress] {
        pieces.map { piece in memory.withGuarded(latin1(piece)) { framer.consume($0) } }
    }

    func testContentLengthPassThrough() {
        struct Row {
            var length: UInt64
            var pieces: [String]
            var expected: [BodyProgress]
        }
        let rows = [
            Row(length: 5, pieces: ["hello"], expected: [.end(consumed: 5)]),
            Row(length: 5, pieces: ["hel", "lo"], expected: [.needMore, .end(consumed: 2)]),
            Row(length: 5, pieces: ["hello", "GET"], expected: [.end(consumed: 5), .end(consumed: 0)]),
            Row(length: 5, pieces: ["helloGET /"], expected: [.end(consumed: 5)]),
            Row(length: 3, pieces: ["a", "b", "cd"], expected: [.needMore, .needMore, .end(consumed: 1)]),
            Row(length: 0, pieces: ["GET"], expected: [.end(consumed: 0)]),
        ]
        for row in rows {
            var framer = BodyFramer(request: .contentLength(row.length))
            XCTAssertEqual(consume(&framer, row.pieces), row.expected, "CL \(row.length) fed \(row.pieces)")
            XCTAssertTrue(framer.isComplete)
            XCTAssertNil(framer.finishAtClose())
        }
    }

    func testContentLengthSteps() {
        var framer = BodyFramer(response: .contentLength(6))
        XCTAssertEqual(framer.remainingLength, 6)
        memory.withGuarded(latin1("abcd")) { XCTAssertEqual(framer.advance($0), .data(offset: 0, count: 4)) }
        XCTAssertEqual(framer.remainingLength, 2)
        memory.withGuarded(latin1("efGET")) { XCTAssertEqual(framer.advance($0), .data(offset: 0, count: 2)) }
        XCTAssertTrue(framer.isComplete)
        memory.withGuarded(latin1("GET")) { XCTAssertEqual(framer.advance($0), .end(consumed: 0)) }
    }

    func testNoBody() {
        for var framer in [BodyFramer(request: .none), BodyFramer(response: .none), BodyFramer(response: .contentLength(0))] {
            XCTAssertTrue(framer.isComplete)
            memory.withGuarded(latin1("next")) { XCTAssertEqual(framer.advance($0), .end(consumed: 0)) }
            XCTAssertEqual(consume(&framer, ["next"]), [.end(consumed: 0)])
        }
    }

    func testUntilCloseEndsOnlyAtClose() {
        var framer = BodyFramer(response: .untilClose)
        XCTAssertEqual(consume(&framer, ["abc", "0\r\n\r\n"]), [.needMore, .needMore])
        memory.withGuarded(latin1("xyz")) { XCTAssertEqual(framer.advance($0), .data(offset: 0, count: 3)) }
        XCTAssertFalse(framer.isComplete)
        XCTAssertNil(framer.finishAtClose(), "closing ends a read-until-close body cleanly")
        XCTAssertTrue(framer.isComplete)
    }

    func testChunkedDelegatesToTheDecoder() {
        var framer = BodyFramer(request: .chunked, limits: HTTP1Limits(maxChunkLineBytes: 8))
        XCTAssertEqual(consume(&framer, ["5\r\nhel", "lo\r\n0\r\n\r\nNEXT"]), [.needMore, .end(consumed: 9)])
        XCTAssertTrue(framer.isComplete)

        var limited = BodyFramer(request: .chunked, limits: HTTP1Limits(maxChunkLineBytes: 8))
        XCTAssertEqual(consume(&limited, ["5;abcdefgh\r\n"]), [.invalid(.chunkLineTooLong)], "limits reach the decoder")
    }

    func testTruncatedBodiesAreReported() {
        var length = BodyFramer(request: .contentLength(10))
        _ = consume(&length, ["12345"])
        XCTAssertEqual(length.finishAtClose(), .truncatedBody)

        var chunked = BodyFramer(response: .chunked)
        _ = consume(&chunked, ["5\r\nhello\r\n"])
        XCTAssertEqual(chunked.finishAtClose(), .truncatedBody, "a chunked body without its last chunk is truncated")
    }
}

/// Trailer blocks gathered from `.trailers` steps, parsed with the head's field rules.
final class TrailerParserTests: XCTestCase {
    func testRows() {
        struct Row {
            var name: String
            var block: String
            var expected: Result<[String], HTTP1Error>
        }
        let rows = [
            Row(name: "gRPC trailers", block: "grpc-status: 0\r\ngrpc-message: ok\r\n",
                expected: .success(["grpc-status: 0", "grpc-message: ok"])),
            Row(name: "empty block", block: "", expected: .success([])),
            Row(name: "no CRLF at the end", block: "a: b", expected: .failure(.unterminatedLine)),
            Row(name: "CR without LF at the end", block: "a: b\r", expected: .failure(.unterminatedLine)),
            Row(name: "bare LF", block: "a: b\n", expected: .failure(.bareLF)),
            Row(name: "obs-fold", block: "a: b\r\n c\r\n", expected: .failure(.obsFold)),
            Row(name: "space before colon", block: "a : b\r\n", expected: .failure(.whitespaceBeforeColon)),
            Row(name: "too many", block: "a: 1\r\nb: 2\r\nc: 3\r\n", expected: .failure(.tooManyTrailers)),
            Row(name: "framing fields mean nothing here", block: "content-length: x\r\ncontent-length: y\r\n",
                expected: .success(["content-length: x", "content-length: y"])),
        ]
        let memory = GuardedMemory()
        let limits = HTTP1Limits(maxHeaderCount: 2)
        let storage = HeaderStorage(capacity: 2)
        for row in rows {
            let result = memory.withGuarded(latin1(row.block)) { block -> Result<[String], HTTP1Error> in
                TrailerParser.parse(block, into: storage, limits: limits).map { count in
                    XCTAssertEqual(count, storage.count)
                    checkLineLayout(storage, buffer: block, fieldsStart: 0, headLength: block.count + 2)
                    return storage.fields.map { "\($0.name.latin1String): \($0.value.latin1String)" }
                }
            }
            XCTAssertEqual(result, row.expected, row.name)
        }
    }
}
