import DevmeshBytes
import DevmeshHTTP1
import XCTest

/// Everything a request parse produced, as plain values (the views are copied into strings
/// while the guarded input is still mapped).
struct RequestSummary: Equatable, CustomStringConvertible {
    var method: HTTPMethod
    var methodText: String
    var target: String
    var versionMinor: UInt8
    var startLineOffset: Int
    var headLength: Int
    var framing: RequestBodyFraming
    var keepAlive: Bool
    var expectContinue: Bool
    var upgrade: Bool
    var isIdempotent: Bool
    /// The Host value found through `hostIndex`, nil when hostIndex is -1.
    var host: String?
    /// "name: value" for every field, in order.
    var fields: [String]
    /// Lower-cased names of the lines marked hop-by-hop, in order.
    var hopByHop: [String]
    var kinds: [KnownHeader]

    var description: String {
        "\(methodText) \(target) 1.\(versionMinor) framing=\(framing) keepAlive=\(keepAlive) "
            + "expect=\(expectContinue) upgrade=\(upgrade) host=\(host ?? "-") hop=\(hopByHop) fields=\(fields)"
    }

    init(_ head: RequestHead, _ storage: HeaderStorage, buffer: UnsafeRawBufferPointer) {
        method = head.method
        methodText = head.methodBytes.latin1String
        target = head.target.latin1String
        versionMinor = head.versionMinor
        startLineOffset = head.startLineOffset
        headLength = head.headLength
        framing = head.framing
        keepAlive = head.keepAlive
        expectContinue = head.expectContinue
        upgrade = head.upgrade
        isIdempotent = head.isIdempotent
        host = head.hostIndex >= 0 ? storage.fields[head.hostIndex].value.latin1String : nil
        fields = storage.fields.map { "\($0.name.latin1String): \($0.value.latin1String)" }
        hopByHop = zip(storage.fields, storage.lines).filter { $0.1.hopByHop }.map { $0.0.name.latin1String.lowercased() }
        kinds = storage.lines.map(\.kind)
        XCTAssertEqual(head.headerCount, storage.count)
        XCTAssertEqual(head.hopByHopCount, hopByHop.count, "hopByHopCount must match the marked lines")
        checkLineLayout(storage, buffer: buffer, fieldsStart: nil, headLength: head.headLength)
    }
}

/// Checks the facts every parse must record consistently: each line covers "name:...CRLF", its
/// views lie inside it, and the lines are contiguous up to the final CRLF.
func checkLineLayout(_ storage: HeaderStorage, buffer: UnsafeRawBufferPointer, fieldsStart: Int?, headLength: Int,
                     file: StaticString = #filePath, line: UInt = #line) {
    guard let base = buffer.baseAddress else { return }
    var expectedStart = fieldsStart
    for (field, facts) in zip(storage.fields, storage.lines) {
        let start = Int(facts.lineStart)
        if let expected = expectedStart {
            XCTAssertEqual(start, expected, "lines must be contiguous", file: file, line: line)
        }
        XCTAssertEqual(field.name.baseAddress, base + start, "the name starts the line", file: file, line: line)
        XCTAssertEqual(buffer[facts.lineEnd - 2], 0x0D, file: file, line: line)
        XCTAssertEqual(buffer[facts.lineEnd - 1], 0x0A, file: file, line: line)
        if let valueStart = field.value.baseAddress {
            XCTAssertGreaterThanOrEqual(valueStart, base + start, file: file, line: line)
            XCTAssertLessThanOrEqual(valueStart + field.value.count, base + facts.lineEnd - 2, file: file, line: line)
        }
        XCTAssertEqual(facts.kind, KnownHeader(name: field.name), file: file, line: line)
        expectedStart = facts.lineEnd
    }
    if let end = expectedStart {
        XCTAssertEqual(end, headLength - 2, "the last line ends at the final CRLF", file: file, line: line)
    }
}

/// What a request row expects; nil fields are not checked.
struct RequestExpect: Sendable {
    var method: HTTPMethod?
    var target: String?
    var minor: UInt8?
    var framing: RequestBodyFraming?
    var keepAlive: Bool?
    var expectContinue: Bool?
    var upgrade: Bool?
    var idempotent: Bool?
    var host: String??
    var hopByHop: [String]?
    var fields: [String]?
    var startLineOffset: Int?

    init(method: HTTPMethod? = nil, target: String? = nil, minor: UInt8? = nil, framing: RequestBodyFraming? = nil,
         keepAlive: Bool? = nil, expectContinue: Bool? = nil, upgrade: Bool? = nil, idempotent: Bool? = nil,
         host: String?? = nil, hopByHop: [String]? = nil, fields: [String]? = nil, startLineOffset: Int? = nil) {
        self.method = method
        self.target = target
        self.minor = minor
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectContinue = expectContinue
        self.upgrade = upgrade
        self.idempotent = idempotent
        self.host = host
        self.hopByHop = hopByHop
        self.fields = fields
        self.startLineOffset = startLineOffset
    }

    func check(_ summary: RequestSummary, row: String, file: StaticString = #filePath, line: UInt = #line) {
        func same<T: Equatable>(_ expected: T?, _ actual: T, _ what: String) {
            if let expected {
                XCTAssertEqual(actual, expected, "\(row): \(what)", file: file, line: line)
            }
        }
        same(method, summary.method, "method")
        same(target, summary.target, "target")
        same(minor, summary.versionMinor, "version")
        same(framing, summary.framing, "framing")
        same(keepAlive, summary.keepAlive, "keepAlive")
        same(expectContinue, summary.expectContinue, "expectContinue")
        same(upgrade, summary.upgrade, "upgrade")
        same(idempotent, summary.isIdempotent, "isIdempotent")
        if let host { XCTAssertEqual(summary.host, host, "\(row): host", file: file, line: line) }
        same(hopByHop, summary.hopByHop, "hop-by-hop lines")
        same(fields, summary.fields, "fields")
        same(startLineOffset, summary.startLineOffset, "startLineOffset")
    }
}

enum Expected<Facts: Sendable>: Sendable {
    case ok(Facts)
    case error(HTTP1Error)
}

struct RequestRow: Sendable {
    var name: String
    var input: [UInt8]
    var expected: Expected<RequestExpect>
    var limits = HTTP1Limits()

    init(_ name: String, _ input: String, _ expected: Expected<RequestExpect>, limits: HTTP1Limits = HTTP1Limits()) {
        self.name = name
        self.input = latin1(input)
        self.expected = expected
        self.limits = limits
    }
}

/// Runs request rows through every feed and checks each against its expectation.
func runRequestRows(_ rows: [RequestRow], file: StaticString = #filePath, line: UInt = #line) {
    let memory = GuardedMemory()
    for row in rows {
        let storage = HeaderStorage(capacity: row.limits.maxHeaderCount)
        let result = feedHeadAllWays(row.input, memory: memory, row: row.name, file: file, line: line) { buffer, hint -> HeadResult<RequestSummary> in
            switch RequestHeadParser.parse(buffer, into: storage, limits: row.limits, scanFrom: &hint) {
            case .incomplete:
                XCTAssertEqual(storage.count, 0)
                return .incomplete
            case .invalid(let error):
                XCTAssertEqual(storage.count, 0)
                return .invalid(error)
            case .complete(let head):
                return .complete(RequestSummary(head, storage, buffer: buffer))
            }
        }
        switch (row.expected, result) {
        case (.ok(let expect), .complete(let summary)):
            XCTAssertEqual(summary.headLength, row.input.count, "\(row.name): headLength", file: file, line: line)
            expect.check(summary, row: row.name, file: file, line: line)
        case (.error(let expected), .invalid(let actual)):
            XCTAssertEqual(actual, expected, "\(row.name): wrong error", file: file, line: line)
        default:
            XCTFail("\(row.name): expected \(row.expected), got \(result)", file: file, line: line)
        }
    }
}
