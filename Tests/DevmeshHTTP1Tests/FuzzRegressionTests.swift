import DevmeshHTTP1
import Foundation
import XCTest

/// Replays the fuzz seed corpora and every committed fuzz finding
/// (`FuzzTesting/FailCases/<target>/`, docs/fuzzing.md) through the HTTP/1 codec with the fuzz
/// targets' central checks, so that a finding stays fixed without building the fuzz products
/// (which need a release build with ASan and libFuzzer). Named tests for fixed findings follow
/// the replays.
final class FuzzRegressionTests: XCTestCase {
    private let limits = HTTP1Limits(maxHeadBytes: 2048, maxHeaderCount: 24)
    private let memory = GuardedMemory(capacity: 16 * 1024)

    func testRequestHeadInputsParseAlikeWholeAndByteByByte() throws {
        let storage = HeaderStorage(capacity: limits.maxHeaderCount)
        for input in try FuzzInputs.load("FuzzHTTP1Request") {
            assertFeedsAgree(input) { buffer, hint in
                switch RequestHeadParser.parse(buffer, into: storage, limits: limits, scanFrom: &hint) {
                case .incomplete: .incomplete
                case .invalid(let error): .invalid(error)
                case .complete(let head): .complete([head.headLength, head.headerCount, head.hopByHopCount])
                }
            }
        }
    }

    func testResponseHeadInputsParseAlikeWholeAndByteByByte() throws {
        let storage = HeaderStorage(capacity: limits.maxHeaderCount)
        for input in try FuzzInputs.load("FuzzHTTP1Response") where !input.bytes.isEmpty {
            let method = HTTPMethod.allCases[Int(input.bytes[0]) % HTTPMethod.allCases.count]
            let response = FuzzInput(name: input.name, bytes: Array(input.bytes.dropFirst()))
            assertFeedsAgree(response) { buffer, hint in
                switch ResponseHeadParser.parse(buffer, into: storage, limits: limits, requestMethod: method,
                                                scanFrom: &hint) {
                case .incomplete: .incomplete
                case .invalid(let error): .invalid(error)
                case .complete(let head): .complete([Int(head.status), head.headLength, head.headerCount])
                }
            }
        }
    }

    /// The chunked target's limits (FuzzTesting/Sources/FuzzChunkedBody/main.swift).
    private let chunkedLimits = HTTP1Limits(maxHeadBytes: 1024, maxHeaderCount: 6, maxChunkLineBytes: 48,
                                            maxTrailerBytes: 160)

    func testChunkedBodyInputsWalkAlikeWholeAndByteByByte() throws {
        for input in try FuzzInputs.load("FuzzChunkedBody") {
            memory.withGuarded(input.bytes) { body in
                var decoder = ChunkedDecoder(limits: chunkedLimits)
                let consumed = decoder.consume(body)
                // One new byte per call, resuming after what the last step consumed.
                var bytewise = ChunkedDecoder(limits: chunkedLimits)
                var progress = BodyProgress.needMore
                var position = 0
                var available = 0
                walk: while true {
                    available = min(body.count, max(available, position + 1))
                    switch bytewise.advance(UnsafeRawBufferPointer(rebasing: body[position..<available])) {
                    case .data(let offset, let count), .trailers(let offset, let count):
                        position += offset + count
                    case .end(let used):
                        progress = .end(consumed: position + used)
                        break walk
                    case .needMore:
                        if available == body.count { break walk }
                        position = available
                    case .invalid(let error):
                        progress = .invalid(error)
                        break walk
                    }
                }
                XCTAssertEqual(progress, consumed, "\(input.name): byte-by-byte walk disagrees with consume")
            }
        }
    }

    func testRewrittenHeadsReparseToTheirFieldsMinusHopByHop() throws {
        let storage = HeaderStorage(capacity: limits.maxHeaderCount)
        let reparsed = HeaderStorage(capacity: limits.maxHeaderCount)
        for input in try FuzzInputs.load("FuzzHeadRewriter") where input.bytes.count > 1 {
            guard input.bytes[0] & 1 == 0 else { continue }  // requests only; the fuzz target does both
            var buffer = Array(input.bytes.dropFirst())
            buffer.withUnsafeMutableBytes { bytes in
                var hint = 0
                guard case .complete(let head) = RequestHeadParser.parse(UnsafeRawBufferPointer(bytes), into: storage,
                                                                         limits: limits, scanFrom: &hint) else { return }
                let kept = zip(storage.fields, storage.lines).filter { !$0.1.hopByHop }
                    .map { Array($0.0.name) + [0x3A] + Array($0.0.value) }
                let outcome = HeadRewriter.prepareForwarding(in: bytes, base: 0, headStart: head.startLineOffset,
                                                             headLength: head.headLength, lines: storage.lines,
                                                             inserting: UnsafeRawBufferPointer(start: nil, count: 0))
                guard case .rewritten(let start) = outcome else {
                    return XCTFail("\(input.name): removing lines needs no headroom, got \(outcome)")
                }
                let forwarded = UnsafeRawBufferPointer(rebasing: bytes[start..<head.headLength])
                hint = 0
                guard case .complete(let again) = RequestHeadParser.parse(forwarded, into: reparsed, limits: limits,
                                                                          scanFrom: &hint)
                else { return XCTFail("\(input.name): the forwarded head does not parse") }
                XCTAssertEqual(again.upgrade, head.upgrade, "\(input.name): the forwarded head changed the upgrade")
                XCTAssertEqual(reparsed.fields.map { Array($0.name) + [0x3A] + Array($0.value) }, kept, input.name)
                XCTAssertFalse(reparsed.lines.contains(where: \.hopByHop), "\(input.name): not idempotent")
            }
        }
    }

    // MARK: Findings

    /// FuzzHeadRewriter, FailCases/FuzzHeadRewriter/crash-43fa605f…: in a WebSocket upgrade the
    /// `Connection` and `Upgrade` lines are kept, but a `Connection` token naming `Connection`
    /// itself marked the kept line hop-by-hop again. The proxy then forwarded a request that was no
    /// longer an upgrade while treating the exchange as one (and the same for a 101 response,
    /// which the client would then refuse).
    func testAConnectionTokenNamingConnectionDoesNotUndoAnUpgrade() {
        let request = latin1("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, Connection\r\nUpgrade: websocket\r\n\r\n")
        let response = latin1("HTTP/1.1 101 Switching Protocols\r\nConnection: connection, upgrade\r\nUpgrade: websocket\r\n\r\n")
        for (name, head, isResponse) in [("request", request, false), ("101 response", response, true)] {
            var bytes = head
            let storage = HeaderStorage(capacity: limits.maxHeaderCount)
            bytes.withUnsafeMutableBytes { buffer in
                var hint = 0
                let length: Int
                if isResponse {
                    guard case .complete(let parsed) = ResponseHeadParser.parse(UnsafeRawBufferPointer(buffer), into: storage,
                                                                                limits: limits, requestMethod: .get,
                                                                                scanFrom: &hint)
                    else { return XCTFail("\(name): does not parse") }
                    XCTAssertTrue(parsed.switchingProtocols, name)
                    length = parsed.headLength
                } else {
                    guard case .complete(let parsed) = RequestHeadParser.parse(UnsafeRawBufferPointer(buffer), into: storage,
                                                                               limits: limits, scanFrom: &hint)
                    else { return XCTFail("\(name): does not parse") }
                    XCTAssertTrue(parsed.upgrade, name)
                    length = parsed.headLength
                }
                XCTAssertFalse(storage.lines.contains(where: \.hopByHop), "\(name): an upgrade line is marked hop-by-hop")
                let outcome = HeadRewriter.prepareForwarding(in: buffer, base: 0, headStart: 0, headLength: length,
                                                             lines: storage.lines,
                                                             inserting: UnsafeRawBufferPointer(start: nil, count: 0))
                XCTAssertEqual(outcome, .rewritten(start: 0), name)
                XCTAssertEqual(UnsafeRawBufferPointer(buffer).latin1String, String(decoding: head, as: UTF8.self),
                               "\(name): the upgrade head must be forwarded as it came")
            }
        }
    }

    /// The fuzz targets' differential check, in miniature: the first final result of a
    /// byte-by-byte feed (hint carried over) equals the result of the whole feed.
    private func assertFeedsAgree(_ input: FuzzInput,
                                  parse: (UnsafeRawBufferPointer, inout Int) -> HeadResult<[Int]>) {
        var hint = 0
        let whole = memory.withGuarded(input.bytes) { parse($0, &hint) }
        hint = 0
        var incremental = HeadResult<[Int]>.incomplete
        memory.withGuarded(input.bytes) { all in
            var length = 0
            while length < all.count, incremental == .incomplete {
                length += 1
                incremental = parse(UnsafeRawBufferPointer(rebasing: all[0..<length]), &hint)
            }
        }
        XCTAssertEqual(incremental, whole, "\(input.name): byte-by-byte feed disagrees with the whole feed")
    }
}

/// One replayed file.
struct FuzzInput {
    var name: String
    var bytes: [UInt8]
}

/// The committed inputs of one fuzz target: its seed corpus and its fail cases.
enum FuzzInputs {
    /// `<repo>/FuzzTesting`, found from this file's path (Tests/DevmeshHTTP1Tests/<this file>).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzTesting")

    static func load(_ target: String) throws -> [FuzzInput] {
        var inputs: [FuzzInput] = []
        for folder in ["Corpus", "FailCases"] {
            let directory = root.appendingPathComponent(folder).appendingPathComponent(target)
            guard FileManager.default.fileExists(atPath: directory.path) else { continue }
            for file in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            where !file.hasPrefix(".") {
                let data = try Data(contentsOf: directory.appendingPathComponent(file))
                inputs.append(FuzzInput(name: "\(folder)/\(target)/\(file)", bytes: Array(data)))
            }
        }
        // An empty list would make the replay pass vacuously (a moved folder, say).
        XCTAssertFalse(inputs.isEmpty, "no committed inputs for \(target) under \(root.path)")
        return inputs
    }
}
