import DevmeshHTTP1
import XCTest

/// Chunked bodies: every row is walked whole, one byte per call, and split in two at every
/// position, each piece right before a guard page; the step-by-step walk (`advance`) and the
/// pass-through walk (`consume`) must agree with each other and with the row.
final class ChunkedDecoderTests: XCTestCase {
    /// What walking a body produced.
    struct Outcome: Equatable, CustomStringConvertible {
        var data: [UInt8] = []
        var trailers: [UInt8] = []
        /// Bytes of the whole input that belonged to the body, once it ended.
        var consumed: Int?
        var error: HTTP1Error?

        var description: String {
            "data=\(String(decoding: data, as: UTF8.self).debugDescription) "
                + "trailers=\(String(decoding: trailers, as: UTF8.self).debugDescription) "
                + "consumed=\(consumed.map(String.init) ?? "-") error=\(error.map { "\($0)" } ?? "-")"
        }
    }

    enum Expect: Sendable {
        /// The body ended; `consumed` defaults to the whole input.
        case complete(data: String, trailers: String = "", consumed: Int? = nil)
        /// The input ended inside the body.
        case unfinished(data: String, trailers: String = "")
        case error(HTTP1Error)
    }

    struct Row: Sendable {
        var name: String
        var input: [UInt8]
        var expect: Expect
        var limits: HTTP1Limits

        init(_ name: String, _ input: String, _ expect: Expect, limits: HTTP1Limits = HTTP1Limits()) {
            self.name = name
            self.input = latin1(input)
            self.expect = expect
            self.limits = limits
        }
    }

    /// Walks `pieces` with `advance`, collecting payload and trailer bytes.
    private func walkSteps(_ pieces: [ArraySlice<UInt8>], limits: HTTP1Limits, memory: GuardedMemory) -> Outcome {
        var decoder = ChunkedDecoder(limits: limits)
        var outcome = Outcome()
        var total = 0
        for piece in pieces {
            let finished: Bool = memory.withGuarded(piece) { buffer in
                var position = 0
                while true {
                    let rest = UnsafeRawBufferPointer(rebasing: buffer[position...])
                    switch decoder.advance(rest) {
                    case .data(let offset, let count):
                        XCTAssertGreaterThan(count, 0)
                        XCTAssertLessThanOrEqual(offset + count, rest.count)
                        outcome.data += rest[offset..<offset + count]
                        position += offset + count
                    case .trailers(let offset, let count):
                        XCTAssertGreaterThan(count, 0)
                        XCTAssertLessThanOrEqual(offset + count, rest.count)
                        outcome.trailers += rest[offset..<offset + count]
                        position += offset + count
                    case .end(let consumed):
                        XCTAssertLessThanOrEqual(consumed, rest.count)
                        outcome.consumed = total + position + consumed
                        XCTAssertTrue(decoder.isComplete)
                        return true
                    case .needMore:
                        return false
                    case .invalid(let error):
                        outcome.error = error
                        return true
                    }
                }
            }
            if finished { break }
            total += piece.count
        }
        return outcome
    }

    /// Walks `pieces` with `consume`, the pass-through path: only the end or the error.
    private func walkPassThrough(_ pieces: [ArraySlice<UInt8>], limits: HTTP1Limits, memory: GuardedMemory) -> Outcome {
        var decoder = ChunkedDecoder(limits: limits)
        var outcome = Outcome()
        var total = 0
        for piece in pieces {
            switch memory.withGuarded(piece, { decoder.consume($0) }) {
            case .needMore:
                total += piece.count
                continue
            case .end(let consumed):
                outcome.consumed = total + consumed
            case .invalid(let error):
                outcome.error = error
            }
            break
        }
        return outcome
    }

    private func run(_ rows: [Row], file: StaticString = #filePath, line: UInt = #line) {
        let memory = GuardedMemory()
        for row in rows {
            let input = row.input[...]
            var feeds: [(String, [ArraySlice<UInt8>])] = [("whole", [input])]
            feeds.append(("byte by byte", input.indices.map { input[$0..<$0 + 1] }))
            for split in 1..<input.count {
                feeds.append(("split at \(split)", [input[..<split], input[split...]]))
            }
            for (how, pieces) in feeds {
                let steps = walkSteps(pieces, limits: row.limits, memory: memory)
                let passThrough = walkPassThrough(pieces, limits: row.limits, memory: memory)
                XCTAssertEqual(passThrough.consumed, steps.consumed, "\(row.name) (\(how)): consume vs advance",
                               file: file, line: line)
                XCTAssertEqual(passThrough.error, steps.error, "\(row.name) (\(how)): consume vs advance",
                               file: file, line: line)
                let expected: Outcome
                switch row.expect {
                case .complete(let data, let trailers, let consumed):
                    expected = Outcome(data: latin1(data), trailers: latin1(trailers), consumed: consumed ?? input.count)
                case .unfinished(let data, let trailers):
                    expected = Outcome(data: latin1(data), trailers: latin1(trailers))
                case .error(let error):
                    // Payload seen before the error depends on how the input was split.
                    XCTAssertEqual(steps.error, error, "\(row.name) (\(how)): \(steps)", file: file, line: line)
                    XCTAssertNil(steps.consumed, file: file, line: line)
                    continue
                }
                XCTAssertEqual(steps, expected, "\(row.name) (\(how))", file: file, line: line)
            }
        }
    }

    func testValidBodies() {
        run([
            Row("one chunk", "5\r\nhello\r\n0\r\n\r\n", .complete(data: "hello")),
            Row("several chunks", "5\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\n\r\n", .complete(data: "hello, world")),
            Row("hex digits in both cases", "A\r\n0123456789\r\na\r\n9876543210\r\n0\r\n\r\n",
                .complete(data: "01234567899876543210")),
            Row("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", .complete(data: "hello")),
            Row("sixteen hex digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", .complete(data: "hello")),
            Row("empty body", "0\r\n\r\n", .complete(data: "")),
            Row("payload made of CRLFs", "4\r\n\r\n\r\n\r\n0\r\n\r\n", .complete(data: "\r\n\r\n")),
            Row("extensions are ignored", "5;name=value\r\nhello\r\n0;last;q=\"a b\"\r\n\r\n", .complete(data: "hello")),
            Row("whitespace before an extension", "5 ;a\r\nhello\r\n0\t; b = c\r\n\r\n", .complete(data: "hello")),
            Row("obs-text in an extension", "5;a=\u{E9}\r\nhello\r\n0\r\n\r\n", .complete(data: "hello")),
            Row("trailers", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nGrpc-Status: 0\r\n\r\n",
                .complete(data: "hello", trailers: "X-Sum: 1\r\nGrpc-Status: 0\r\n")),
            Row("trailer with an empty value and obs-text", "0\r\nX:\r\nY: \u{E9}\t!\r\n\r\n",
                .complete(data: "", trailers: "X:\r\nY: \u{E9}\t!\r\n")),
            Row("the next message is not consumed", "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
                .complete(data: "abc", consumed: 13)),
            Row("the next message after trailers is not consumed", "0\r\nA: b\r\n\r\nXYZ",
                .complete(data: "", trailers: "A: b\r\n", consumed: 11)),
        ])
    }

    func testUnfinishedBodies() {
        run([
            Row("inside the data", "5\r\nhel", .unfinished(data: "hel")),
            Row("inside a size line", "5\r\nhello\r\n1", .unfinished(data: "hello")),
            Row("after the last chunk", "0\r\n", .unfinished(data: "")),
            Row("inside the trailers", "0\r\nX: y\r\nZ", .unfinished(data: "", trailers: "X: y\r\nZ")),
            Row("the largest chunk size", "7fffffffffffffff\r\nab", .unfinished(data: "ab")),
        ])
    }

    func testBadSizeLines() {
        run([
            Row("not hex", "x\r\n", .error(.invalidChunkSize)),
            Row("empty size", "\r\nhello\r\n", .error(.invalidChunkSize)),
            Row("extension without a size", ";a\r\n", .error(.invalidChunkSize)),
            Row("signed size", "+5\r\nhello\r\n", .error(.invalidChunkSize)),
            Row("0x prefix", "0x5\r\nhello\r\n", .error(.invalidChunkSize)),
            Row("space then junk", "5 x\r\nhello\r\n", .error(.invalidChunkSize)),
            Row("space then CRLF", "5 \r\nhello\r\n", .error(.invalidChunkSize)),
            Row("seventeen hex digits", "00000000000000005\r\nhello\r\n", .error(.chunkSizeTooLarge)),
            Row("2^63", "8000000000000000\r\n", .error(.chunkSizeTooLarge)),
            Row("2^64 - 1", "ffffffffffffffff\r\n", .error(.chunkSizeTooLarge)),
            Row("bare LF after the size", "5\nhello\r\n0\r\n\r\n", .error(.bareLF)),
            Row("bare LF after an extension", "5;a\nhello\r\n0\r\n\r\n", .error(.bareLF)),
            Row("bare LF after the last chunk", "0\n\r\n", .error(.bareLF)),
            Row("bare LF instead of a size", "\n", .error(.bareLF)),
            Row("bare CR after the size", "5\r\rhello", .error(.bareCR)),
            Row("control byte in an extension", "5;a\u{1}\r\nhello\r\n", .error(.invalidChunkExtension)),
            Row("DEL in an extension", "5;a\u{7F}\r\nhello\r\n", .error(.invalidChunkExtension)),
        ])
    }

    func testChunkLineLimit() {
        let limits = HTTP1Limits(maxChunkLineBytes: 16)
        run([
            Row("size line of exactly maxChunkLineBytes", "5;" + String(repeating: "e", count: 12) + "\r\nhello\r\n0\r\n\r\n",
                .complete(data: "hello"), limits: limits),
            Row("size line one byte longer", "5;" + String(repeating: "e", count: 13) + "\r\nhello\r\n0\r\n\r\n",
                .error(.chunkLineTooLong), limits: limits),
            Row("the limit applies to every size line", "1\r\na\r\n0;" + String(repeating: "e", count: 13) + "\r\n\r\n",
                .error(.chunkLineTooLong), limits: limits),
        ])
    }

    func testBadDataTermination() {
        run([
            Row("data longer than its size", "3\r\nhello\r\n0\r\n\r\n", .error(.chunkDataNotTerminated)),
            Row("bare LF after data", "5\r\nhello\n0\r\n\r\n", .error(.chunkDataNotTerminated)),
            Row("CR then junk after data", "5\r\nhello\rX0\r\n\r\n", .error(.chunkDataNotTerminated)),
            Row("no CRLF before the next size", "5\r\nhello0\r\n\r\n", .error(.chunkDataNotTerminated)),
        ])
    }

    func testBadTrailers() {
        run([
            Row("bare LF ending a trailer", "0\r\nX: y\n\r\n", .error(.bareLF)),
            Row("bare LF as the final line", "0\r\n\n", .error(.bareLF)),
            Row("bare CR as the final line", "0\r\n\r\r", .error(.bareCR)),
            Row("bare CR inside a trailer", "0\r\nX: a\rb\r\n\r\n", .error(.bareCR)),
            Row("obs-fold in trailers", "0\r\nX: y\r\n z\r\n\r\n", .error(.obsFold)),
            Row("space before the colon", "0\r\nX : y\r\n\r\n", .error(.whitespaceBeforeColon)),
            Row("non-token name", "0\r\nX(: y\r\n\r\n", .error(.invalidHeaderName)),
            Row("empty name", "0\r\n: y\r\n\r\n", .error(.invalidHeaderName)),
            Row("no colon", "0\r\nXY\r\n\r\n", .error(.invalidHeaderName)),
            Row("NUL in a value", "0\r\nX: \u{0}\r\n\r\n", .error(.invalidHeaderValue)),
        ])
    }

    func testTrailerLimits() {
        let bytes = HTTP1Limits(maxTrailerBytes: 16)
        let count = HTTP1Limits(maxHeaderCount: 2)
        run([
            // "X: 012345678\r\n" is 14 bytes, plus the final CRLF: 16.
            Row("trailers of exactly maxTrailerBytes", "0\r\nX: 012345678\r\n\r\n",
                .complete(data: "", trailers: "X: 012345678\r\n"), limits: bytes),
            Row("trailers one byte longer", "0\r\nX: 0123456789\r\n\r\n", .error(.trailersTooLarge), limits: bytes),
            Row("exactly maxHeaderCount trailers", "0\r\nA: 1\r\nB: 2\r\n\r\n",
                .complete(data: "", trailers: "A: 1\r\nB: 2\r\n"), limits: count),
            Row("one trailer more", "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", .error(.tooManyTrailers), limits: count),
        ])
    }

    func testFinalStatesAreSticky() {
        let memory = GuardedMemory()
        var decoder = ChunkedDecoder()
        memory.withGuarded(latin1("0\r\n\r\n")) { XCTAssertEqual(decoder.advance($0), .end(consumed: 5)) }
        memory.withGuarded(latin1("5\r\n")) { XCTAssertEqual(decoder.advance($0), .end(consumed: 0)) }
        XCTAssertTrue(decoder.isComplete)

        var broken = ChunkedDecoder()
        memory.withGuarded(latin1("z")) { XCTAssertEqual(broken.advance($0), .invalid(.invalidChunkSize)) }
        memory.withGuarded(latin1("0\r\n\r\n")) { XCTAssertEqual(broken.advance($0), .invalid(.invalidChunkSize)) }
        XCTAssertFalse(broken.isComplete)

        var fresh = ChunkedDecoder()
        XCTAssertEqual(fresh.advance(UnsafeRawBufferPointer(start: nil, count: 0)), .needMore)
    }
}
