// FuzzHTTP1Response: ResponseHeadParser on arbitrary bytes. The first input byte picks the
// method of the request being answered (HEAD and CONNECT change the framing rules); the rest
// is the raw response.
//
// Checks: whole == byte-by-byte == two-part feed (ASan-guarded prefixes), a complete head is
// self-consistent (`ResponseHeadInvariants`), a non-complete parse leaves the storage empty.
import DevmeshBytes
import DevmeshHTTP1
import FuzzSupport

let limits = HTTP1Limits(maxHeadBytes: 2048, maxHeaderCount: 24)
/// libFuzzer calls the target from one thread only; the storage is reused like a worker's.
nonisolated(unsafe) let storage = HeaderStorage(capacity: limits.maxHeaderCount)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withFuzzInput(data, size) { input in
        guard let selector = input.first else { return }
        let method = HTTPMethod.allCases[Int(selector) % HTTPMethod.allCases.count]
        let response = UnsafeRawBufferPointer(rebasing: input.dropFirst())
        let split = input.reduce(0) { $0 &+ Int($1) }
        checkIncrementalFeed(response, split: split, what: "response head to \(method)") {
            buffer, hint -> FeedResult<ResponseSummary, HTTP1Error> in
            switch ResponseHeadParser.parse(buffer, into: storage, limits: limits, requestMethod: method,
                                            scanFrom: &hint) {
            case .incomplete:
                fuzzCheck(storage.count == 0, "storage not empty after .incomplete")
                return .incomplete
            case .invalid(let error):
                fuzzCheck(storage.count == 0, "storage not empty after .invalid(\(error))")
                return .invalid(error)
            case .complete(let head):
                let summary = ResponseSummary(head, storage: storage, buffer: buffer)
                ResponseHeadInvariants.check(head, summary: summary, buffer: buffer, method: method, limits: limits)
                return .complete(summary)
            }
        }
    }
}

/// A complete `ResponseHead` and its storage as plain offsets, comparable across feeds.
struct ResponseSummary: Equatable {
    var status: UInt16
    var reason: Range<Int>
    var versionMinor: UInt8
    var headLength: Int
    var headerCount: Int
    var framing: ResponseBodyFraming
    var keepAlive: Bool
    var hopByHopCount: Int
    var fields: [FieldSummary]

    init(_ head: ResponseHead, storage: HeaderStorage, buffer: UnsafeRawBufferPointer) {
        status = head.status
        reason = buffer.offsets(of: head.reason, what: "reason")
        versionMinor = head.versionMinor
        headLength = head.headLength
        headerCount = head.headerCount
        framing = head.framing
        keepAlive = head.keepAlive
        hopByHopCount = head.hopByHopCount
        fuzzCheck(storage.count == head.headerCount, "storage holds \(storage.count) fields, head says \(head.headerCount)")
        fields = zip(storage.fields, storage.lines).map { field, line in
            let name = buffer.offsets(of: field.name, what: "field name")
            let value = buffer.offsets(of: field.value, what: "field value")
            return FieldSummary(nameStart: name.lowerBound, nameEnd: name.upperBound,
                                valueStart: value.lowerBound, valueEnd: value.upperBound,
                                lineStart: Int(line.lineStart), lineLength: Int(line.lineLength),
                                kind: line.kind.rawValue, hopByHop: line.hopByHop)
        }
    }
}

/// What must hold for every response head the parser accepts.
enum ResponseHeadInvariants {
    static func check(_ head: ResponseHead, summary: ResponseSummary, buffer: UnsafeRawBufferPointer,
                      method: HTTPMethod, limits: HTTP1Limits) {
        fuzzCheck(head.headLength <= limits.maxHeadBytes, "head of \(head.headLength) bytes over the limit")
        // status-line = HTTP-version SP 3DIGIT [SP reason] CRLF
        let prefix = Array("HTTP/1.\(head.versionMinor) ".utf8)
        fuzzCheck(head.versionMinor <= 1 && (0..<prefix.count).allSatisfy { buffer[$0] == prefix[$0] },
                  "status line does not start with HTTP/1.\(head.versionMinor) SP")
        fuzzCheck((100...599).contains(head.status), "status \(head.status) outside 100...599")
        let digits = (9..<12).map { UInt16(buffer[$0]) - 0x30 }
        fuzzCheck(digits[0] * 100 + digits[1] * 10 + digits[2] == head.status, "status code bytes disagree")
        let reason = summary.reason
        fuzzCheck(reason.lowerBound == 12 || reason.lowerBound == 13, "reason starts at \(reason.lowerBound)")
        fuzzCheck(buffer[reason.upperBound] == 0x0D && buffer[reason.upperBound + 1] == 0x0A, "reason not ended by CRLF")
        fuzzCheck(reason.allSatisfy { buffer[$0] == 0x09 || (buffer[$0] >= 0x20 && buffer[$0] != 0x7F) },
                  "control byte in the reason phrase")
        FieldLineInvariants.check(summary.fields, buffer: buffer, firstFieldLine: reason.upperBound + 2,
                                  headLength: head.headLength, maxCount: limits.maxHeaderCount)
        fuzzCheck(head.hopByHopCount == summary.fields.count(where: \.hopByHop), "hopByHopCount disagrees with the lines")

        let lengths = summary.fields.filter { $0.kind == KnownHeader.contentLength.rawValue }
        let codings = summary.fields.filter { $0.kind == KnownHeader.transferEncoding.rawValue }
        fuzzCheck(lengths.isEmpty || codings.isEmpty, "Content-Length and Transfer-Encoding both accepted")
        fuzzCheck(lengths.count <= 1, "\(lengths.count) Content-Length lines accepted")
        fuzzCheck(codings.isEmpty || head.versionMinor == 1, "Transfer-Encoding accepted on HTTP/1.0")
        // RFC 9112 §6.3 in order.
        let bodiless = method == .head || head.status < 200 || head.status == 204 || head.status == 304
            || (method == .connect && head.status < 300)
        switch head.framing {
        case .none: fuzzCheck(bodiless, "framing .none for a response that has a body")
        case .chunked: fuzzCheck(!bodiless && !codings.isEmpty, "chunked framing without Transfer-Encoding")
        case .contentLength: fuzzCheck(!bodiless && lengths.count == 1 && codings.isEmpty, "length framing without its line")
        case .untilClose:
            fuzzCheck(!bodiless && lengths.isEmpty && codings.isEmpty, "until-close framing with framing lines")
            fuzzCheck(!head.keepAlive, "keep-alive after a body delimited by closing")
        }
        if head.isInterim { fuzzCheck(head.framing == .none, "interim response with a body") }
        for field in summary.fields where !field.hopByHop {
            let kind = KnownHeader(rawValue: field.kind) ?? .other
            fuzzCheck(!kind.isHopByHop || (head.switchingProtocols && (kind == .upgrade || kind == .connection)),
                      "hop-by-hop \(kind) line kept in a \(head.status) response")
        }
    }
}
