import DevmeshHTTP1
import XCTest

/// Forwarding a head in place: hop-by-hop lines out, maybe one line in, body bytes untouched.
final class HeadRewriterTests: XCTestCase {
    struct Row {
        var name: String
        var head: String
        var headroom: Int
        var insert: String = ""
        /// The forwarded head, or nil when the headroom is too small by `missing` bytes.
        var expected: String?
        var missing: Int = 0
    }

    private let filler: UInt8 = 0xEE
    private let body = latin1("BODY+NEXT")

    func testRequestRows() {
        let close = "connection: close\r\n"
        run([
            Row(name: "nothing to do", head: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n", headroom: 0,
                expected: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"),
            Row(name: "first line removed", head: "GET / HTTP/1.1\r\nKeep-Alive: 5\r\nHost: a\r\nX: 1\r\n\r\n", headroom: 0,
                expected: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"),
            Row(name: "middle line removed", head: "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nX: 1\r\n\r\n", headroom: 0,
                expected: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"),
            Row(name: "last line removed", head: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nProxy-Connection: keep-alive\r\n\r\n",
                headroom: 0, expected: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"),
            Row(name: "several lines, adjacent and apart",
                head: "GET / HTTP/1.1\r\nConnection: close, X-A\r\nHost: a\r\nX-A: 1\r\nKeep-Alive: 1\r\nX-B: 2\r\nTE: x\r\n\r\n",
                headroom: 0, expected: "GET / HTTP/1.1\r\nHost: a\r\nX-B: 2\r\n\r\n"),
            Row(name: "every field removed", head: "GET / HTTP/1.0\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n\r\n",
                headroom: 0, expected: "GET / HTTP/1.0\r\n\r\n"),
            Row(name: "insert only", head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", headroom: 19, insert: close,
                expected: "GET / HTTP/1.1\r\nHost: a\r\nconnection: close\r\n\r\n"),
            Row(name: "insert only, no field lines", head: "GET / HTTP/1.0\r\n\r\n", headroom: 40, insert: close,
                expected: "GET / HTTP/1.0\r\nconnection: close\r\n\r\n"),
            Row(name: "insert only, one byte of headroom short", head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", headroom: 18,
                insert: close, expected: nil, missing: 1),
            Row(name: "removing more than inserting needs no headroom",
                head: "GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: timeout=5, max=100\r\nX: 1\r\n\r\n", headroom: 0,
                insert: close, expected: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nconnection: close\r\n\r\n"),
            Row(name: "removed first and last, inserted",
                head: "GET / HTTP/1.1\r\nTE: a\r\nHost: a\r\nX: 1\r\nY: 2\r\nConnection: close\r\n\r\n", headroom: 0,
                insert: close, expected: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\nconnection: close\r\n\r\n"),
            Row(name: "removed less than inserted, exact headroom",
                head: "GET / HTTP/1.1\r\nHost: a\r\nTE: x\r\nX: 1\r\n\r\n", headroom: 12, insert: close,
                expected: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nconnection: close\r\n\r\n"),
            Row(name: "removed less than inserted, one byte short",
                head: "GET / HTTP/1.1\r\nHost: a\r\nTE: x\r\nX: 1\r\n\r\n", headroom: 11, insert: close,
                expected: nil, missing: 1),
            Row(name: "leading empty lines are dropped", head: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", headroom: 0,
                expected: "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Row(name: "leading empty lines give headroom", head: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", headroom: 15,
                insert: close, expected: "GET / HTTP/1.1\r\nHost: a\r\nconnection: close\r\n\r\n"),
            Row(name: "leading empty lines, not enough", head: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", headroom: 0,
                insert: close, expected: nil, missing: 15),
            Row(name: "a WebSocket upgrade keeps its lines",
                head: "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", headroom: 0,
                expected: "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
        ])
    }

    func testResponseHead() {
        let memory = GuardedMemory()
        let storage = HeaderStorage()
        let input = latin1("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 9\r\nConnection: keep-alive\r\n\r\n") + body
        memory.withGuardedMutable(input, headroom: 32, filler: filler) { buffer in
            var hint = 0
            guard case .complete(let head) = ResponseHeadParser.parse(
                UnsafeRawBufferPointer(rebasing: buffer[32...]), into: storage, limits: HTTP1Limits(),
                requestMethod: .get, scanFrom: &hint) else { return XCTFail("parse failed") }
            let extra = latin1("connection: close\r\n")
            let outcome = extra.withUnsafeBytes {
                HeadRewriter.prepareForwarding(in: buffer, base: 32, headStart: 0, headLength: head.headLength,
                                               lines: storage.lines, inserting: $0)
            }
            guard case .rewritten(let start) = outcome else { return XCTFail("\(outcome)") }
            let end = 32 + head.headLength
            XCTAssertEqual(UnsafeRawBufferPointer(rebasing: buffer[start..<end]).latin1String,
                           "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nconnection: close\r\n\r\n")
            XCTAssertEqual(Array(buffer[end...]), body)
        }
    }

    /// Random heads against a reference built from strings: the kept lines in order, the new
    /// line last. Deterministic (fixed seeds), so a failure reproduces.
    func testRandomHeadsAgainstAReference() {
        var random = SplitMix64(seed: 0x5EED)
        let dropped = ["Keep-Alive", "TE", "Proxy-Connection", "HTTP2-Settings"]
        let inserts = ["", "connection: close\r\n", "connection: keep-alive\r\n"]
        var rows: [Row] = []
        for index in 0..<400 {
            var head = "GET /\(index) HTTP/1.1\r\nHost: a\r\n"
            var kept = head
            for field in 0..<random.next(below: 8) {
                let value = String(repeating: "v", count: random.next(below: 30))
                if random.next(below: 3) == 0 {
                    head += "\(dropped[random.next(below: dropped.count)]): \(value)\r\n"
                } else {
                    let line = "X-\(field): \(value)\r\n"
                    head += line
                    kept += line
                }
            }
            let insert = inserts[random.next(below: inserts.count)]
            let headroom = random.next(below: 30)
            let removed = (head.utf8.count - kept.utf8.count)
            let missing = insert.utf8.count - removed - headroom
            rows.append(Row(name: "random \(index)", head: head + "\r\n", headroom: headroom, insert: insert,
                            expected: missing > 0 ? nil : kept + insert + "\r\n", missing: max(missing, 0)))
        }
        run(rows)
    }

    private func run(_ rows: [Row], file: StaticString = #filePath, line: UInt = #line) {
        let memory = GuardedMemory()
        let storage = HeaderStorage()
        for row in rows {
            let input = latin1(row.head) + body
            memory.withGuardedMutable(input, headroom: row.headroom, filler: filler) { buffer in
                var hint = 0
                let parsed = RequestHeadParser.parse(UnsafeRawBufferPointer(rebasing: buffer[row.headroom...]),
                                                     into: storage, limits: HTTP1Limits(), scanFrom: &hint)
                guard case .complete(let head) = parsed else {
                    return XCTFail("\(row.name): parse gave \(parsed)", file: file, line: line)
                }
                let before = Array(buffer)
                let extra = latin1(row.insert)
                let outcome = extra.withUnsafeBytes {
                    HeadRewriter.prepareForwarding(in: buffer, base: row.headroom, headStart: head.startLineOffset,
                                                   headLength: head.headLength, lines: storage.lines, inserting: $0)
                }
                let end = row.headroom + head.headLength
                switch (outcome, row.expected) {
                case (.rewritten(let start), .some(let expected)):
                    XCTAssertEqual(UnsafeRawBufferPointer(rebasing: buffer[start..<end]).latin1String, expected,
                                   row.name, file: file, line: line)
                    XCTAssertEqual(Array(buffer[end...]), body, "\(row.name): the body moved", file: file, line: line)
                    XCTAssertEqual(Array(buffer[..<min(start, row.headroom)]),
                                   Array(repeating: filler, count: min(start, row.headroom)),
                                   "\(row.name): bytes before the new start were written", file: file, line: line)
                case (.headroomTooSmall(let missing), nil):
                    XCTAssertEqual(missing, row.missing, row.name, file: file, line: line)
                    XCTAssertEqual(Array(buffer), before, "\(row.name): refused but changed bytes", file: file, line: line)
                default:
                    XCTFail("\(row.name): got \(outcome)", file: file, line: line)
                }
            }
        }
    }
}

/// A small deterministic generator (SplitMix64) for reproducible random tests.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    mutating func next(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}
