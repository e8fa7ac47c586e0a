// FuzzHeadRewriter: HeadRewriter.prepareForwarding on every head the parsers accept.
//
// Input: one flag byte, then a raw head (and maybe body bytes).
//   bit 0    parse as a response (else a request)
//   bits 2-4 the request method a response answers (HTTPMethod.allCases index)
//   bits 5-7 headroom before the head, in units of 8 bytes (0...56)
//
// For a head that parses, the rewrite runs twice, without and with an inserted
// `connection: close` line, in a buffer of exactly headroom + input bytes (ASan-guarded).
// Checks:
// - the outcome is exact: the forwarded head starts at headroom + start-line offset + removed -
//   inserted, or `headroomTooSmall` says by how much it is short and nothing was moved;
// - the bytes before the forwarded head and every byte after the head are untouched;
// - the forwarded head re-parses to the same start line and to exactly the original fields
//   minus the hop-by-hop ones (plus the inserted line, last), in order;
// - without an insert, the forwarded head has no hop-by-hop line left (forwarding is idempotent).
import DevmeshBytes
import DevmeshHTTP1
import FuzzSupport

let limits = HTTP1Limits(maxHeadBytes: 2048, maxHeaderCount: 24)
/// Re-parsing a head with one more line needs one more slot and a few more bytes.
let reparseLimits = HTTP1Limits(maxHeadBytes: 2048 + 64, maxHeaderCount: 25)
/// libFuzzer calls the target from one thread only; storages are reused like a worker's.
nonisolated(unsafe) let storage = HeaderStorage(capacity: limits.maxHeaderCount)
nonisolated(unsafe) let reparseStorage = HeaderStorage(capacity: reparseLimits.maxHeaderCount)

let closeLine: [UInt8] = Array("connection: close\r\n".utf8)
let filler: UInt8 = 0xEE

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withFuzzInput(data, size) { input in
        guard let flags = input.first else { return }
        let mode = Mode(flags: flags)
        let head = Array(input.dropFirst())
        for insert in [false, true] {
            check(head, mode: mode, insert: insert)
        }
    }
}

struct Mode {
    var isResponse: Bool
    var requestMethod: HTTPMethod
    var headroom: Int

    init(flags: UInt8) {
        isResponse = flags & 1 == 1
        requestMethod = HTTPMethod.allCases[Int(flags >> 2 & 7)]
        headroom = Int(flags >> 5) * 8
    }
}

/// The start line and fields of a parsed head, copied out (the views die with the rewrite).
struct ParsedHead: Equatable {
    var startLine: [Int]
    var target: [UInt8]
    var fields: [[UInt8]]
    var hopByHop: [Bool]
    var startLineOffset: Int
    var headLength: Int
}

func parse(_ buffer: UnsafeRawBufferPointer, mode: Mode, limits: HTTP1Limits, into storage: HeaderStorage) -> ParsedHead? {
    var hint = 0
    let fields = { () -> ([[UInt8]], [Bool]) in
        (storage.fields.map { Array($0.name) + [0x3A] + Array($0.value) }, storage.lines.map(\.hopByHop))
    }
    if mode.isResponse {
        guard case .complete(let head) = ResponseHeadParser.parse(buffer, into: storage, limits: limits,
                                                                  requestMethod: mode.requestMethod, scanFrom: &hint)
        else { return nil }
        let (list, hop) = fields()
        return ParsedHead(startLine: [Int(head.status), Int(head.versionMinor), framingCode(head.framing)],
                          target: Array(head.reason), fields: list, hopByHop: hop, startLineOffset: 0,
                          headLength: head.headLength)
    }
    guard case .complete(let head) = RequestHeadParser.parse(buffer, into: storage, limits: limits, scanFrom: &hint)
    else { return nil }
    let (list, hop) = fields()
    return ParsedHead(startLine: [Int(head.method.rawValue), Int(head.versionMinor), framingCode(head.framing),
                                  head.upgrade ? 1 : 0],
                      target: Array(head.methodBytes) + [0x20] + Array(head.target), fields: list, hopByHop: hop,
                      startLineOffset: head.startLineOffset, headLength: head.headLength)
}

func framingCode(_ framing: RequestBodyFraming) -> Int {
    switch framing {
    case .none: -1
    case .chunked: -2
    case .contentLength(let length): Int(truncatingIfNeeded: length)
    }
}

func framingCode(_ framing: ResponseBodyFraming) -> Int {
    switch framing {
    case .none: -1
    case .chunked: -2
    case .untilClose: -3
    case .contentLength(let length): Int(truncatingIfNeeded: length)
    }
}

func check(_ input: [UInt8], mode: Mode, insert: Bool) {
    let extra = insert ? closeLine : []
    let total = mode.headroom + input.count
    guard total > 0 else { return }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: 1)
    defer { buffer.deallocate() }
    buffer.initializeMemory(as: UInt8.self, repeating: filler)
    _ = UnsafeMutableRawBufferPointer(rebasing: buffer[mode.headroom...]).initializeMemory(as: UInt8.self, from: input)
    let parsedBytes = UnsafeRawBufferPointer(rebasing: buffer[mode.headroom...])
    guard let original = parse(parsedBytes, mode: mode, limits: limits, into: storage) else { return }
    let before = Array(buffer)

    let removed = storage.lines.reduce(0) { $0 + ($1.hopByHop ? Int($1.lineLength) : 0) }
    let expectedStart = mode.headroom + original.startLineOffset + removed - extra.count
    let outcome = extra.withUnsafeBytes { line in
        HeadRewriter.prepareForwarding(in: buffer, base: mode.headroom, headStart: original.startLineOffset,
                                       headLength: original.headLength, lines: storage.lines, inserting: line)
    }
    let headEnd = mode.headroom + original.headLength
    switch outcome {
    case .headroomTooSmall(let missing):
        fuzzCheck(expectedStart < 0 && missing == -expectedStart,
                  "headroomTooSmall(\(missing)) but the head would start at \(expectedStart)")
        fuzzCheck(Array(buffer) == before, "a refused rewrite moved bytes")
        return
    case .rewritten(let start):
        fuzzCheck(start == expectedStart, "forwarded head starts at \(start), expected \(expectedStart)")
    }
    let after = Array(buffer)
    fuzzCheck(after[..<expectedStart] == before[..<expectedStart], "bytes before the forwarded head changed")
    fuzzCheck(after[headEnd...] == before[headEnd...], "bytes after the head (body, next message) changed")

    // Re-parse exactly the forwarded head, in its own exact-size allocation.
    let forwarded = Array(after[expectedStart..<headEnd])
    let reparsed = forwarded.withUnsafeBytes { parse($0, mode: mode, limits: reparseLimits, into: reparseStorage) }
    guard let reparsed else {
        fuzzCheck(false, "the forwarded head does not parse: \(String(decoding: forwarded, as: UTF8.self).debugDescription)")
        return
    }
    fuzzCheck(reparsed.headLength == forwarded.count, "forwarded head parses to \(reparsed.headLength) of \(forwarded.count) bytes")
    fuzzCheck(reparsed.startLineOffset == 0, "forwarded head still starts with empty lines")
    fuzzCheck(reparsed.startLine == original.startLine && reparsed.target == original.target,
              "start line changed: \(original.startLine) -> \(reparsed.startLine)")
    var expected = zip(original.fields, original.hopByHop).filter { !$0.1 }.map(\.0)
    if insert { expected.append(Array("connection:close".utf8)) }
    fuzzCheck(reparsed.fields == expected,
              "forwarded fields \(reparsed.fields.map { String(decoding: $0, as: UTF8.self) }) != expected "
              + "\(expected.map { String(decoding: $0, as: UTF8.self) })")
    if !insert {
        fuzzCheck(!reparsed.hopByHop.contains(true), "forwarding again would remove more lines (not idempotent)")
    }
}
