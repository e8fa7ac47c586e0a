import DevmeshBytes
import DevmeshHTTP1
import FuzzSupport

/// What must hold for every request head the parser accepts.
enum RequestHeadInvariants {
    static func check(_ head: RequestHead, summary: RequestSummary, storage: HeaderStorage,
                      buffer: UnsafeRawBufferPointer, limits: HTTP1Limits) {
        fuzzCheck(head.headLength <= limits.maxHeadBytes, "head of \(head.headLength) bytes over the limit")
        fuzzCheck(storage.count == head.headerCount && summary.fields.count == head.headerCount,
                  "storage holds \(storage.count) fields, head says \(head.headerCount)")

        // Only CRLF pairs may precede the request line.
        fuzzCheck(head.startLineOffset % 2 == 0, "odd start-line offset \(head.startLineOffset)")
        for offset in stride(from: 0, to: head.startLineOffset, by: 2) {
            fuzzCheck(buffer[offset] == 0x0D && buffer[offset + 1] == 0x0A, "skipped bytes are not empty lines")
        }

        // request-line = method SP request-target SP HTTP-version CRLF
        let method = summary.methodBytes
        fuzzCheck(method.lowerBound == head.startLineOffset && !method.isEmpty, "method not at the line start")
        fuzzCheck(method.allSatisfy { FieldLineInvariants.isTokenByte(buffer[$0]) }, "method is not a token")
        fuzzCheck(HTTPMethod(head.methodBytes) == head.method, "method classified inconsistently")
        let target = summary.target
        fuzzCheck(target.lowerBound == method.upperBound + 1 && buffer[method.upperBound] == 0x20,
                  "target does not follow the method after one SP")
        fuzzCheck(!target.isEmpty && target.allSatisfy { buffer[$0] > 0x20 && buffer[$0] != 0x7F },
                  "target empty or holding SP/CTL/DEL")
        let version = target.upperBound + 1
        fuzzCheck(buffer[target.upperBound] == 0x20, "no SP after the target")
        fuzzCheck(head.versionMinor <= 1, "version minor \(head.versionMinor)")
        let expectedVersion = Array("HTTP/1.\(head.versionMinor)\r\n".utf8)
        fuzzCheck(version + expectedVersion.count <= head.headLength
                  && (0..<expectedVersion.count).allSatisfy { buffer[version + $0] == expectedVersion[$0] },
                  "the request line does not end in HTTP/1.\(head.versionMinor) CRLF")

        FieldLineInvariants.check(summary.fields, buffer: buffer, firstFieldLine: version + expectedVersion.count,
                                  headLength: head.headLength, maxCount: limits.maxHeaderCount)

        // Counters and indexes agree with the lines.
        fuzzCheck(head.hopByHopCount == summary.fields.count(where: \.hopByHop),
                  "hopByHopCount \(head.hopByHopCount) does not match the flagged lines")
        let hosts = summary.fields.indices.filter { summary.fields[$0].kind == KnownHeader.host.rawValue }
        fuzzCheck(hosts.count <= 1, "\(hosts.count) Host lines accepted")
        fuzzCheck(head.hostIndex == (hosts.first ?? -1), "hostIndex \(head.hostIndex), Host lines at \(hosts)")
        if head.versionMinor == 1 { fuzzCheck(head.hostIndex >= 0, "HTTP/1.1 request without Host accepted") }
        for field in summary.fields {
            let kind = KnownHeader(name: UnsafeRawBufferPointer(rebasing: buffer[field.nameStart..<field.nameEnd]))
            fuzzCheck(kind.rawValue == field.kind, "line kind \(field.kind), name says \(kind)")
            // A hop-by-hop line is either hop-by-hop by name or named by Connection, and the
            // fields that frame or route the message never are.
            if field.hopByHop {
                fuzzCheck(kind != .host && kind != .contentLength && kind != .transferEncoding,
                          "framing or Host line marked hop-by-hop")
            } else if kind.isHopByHop {
                fuzzCheck(head.upgrade && (kind == .upgrade || kind == .connection),
                          "hop-by-hop \(kind) line kept outside a WebSocket upgrade")
            }
        }

        // Framing follows the framing lines (both together were refused).
        let lengths = summary.fields.filter { $0.kind == KnownHeader.contentLength.rawValue }
        let codings = summary.fields.filter { $0.kind == KnownHeader.transferEncoding.rawValue }
        fuzzCheck(lengths.isEmpty || codings.isEmpty, "Content-Length and Transfer-Encoding both accepted")
        fuzzCheck(lengths.count <= 1, "\(lengths.count) Content-Length lines accepted")
        switch head.framing {
        case .none:
            fuzzCheck(lengths.isEmpty && codings.isEmpty, "framing .none with framing lines")
        case .chunked:
            fuzzCheck(!codings.isEmpty && head.versionMinor == 1, "chunked framing without Transfer-Encoding on 1.1")
        case .contentLength(let length):
            fuzzCheck(lengths.count == 1, "content-length framing without its line")
            let value = lengths[0].valueStart..<lengths[0].valueEnd
            fuzzCheck(!value.isEmpty && value.allSatisfy { buffer[$0] >= 0x30 && buffer[$0] <= 0x39 },
                      "Content-Length value is not 1*DIGIT")
            let parsed = value.reduce(UInt64(0)) { total, offset in
                total.multipliedReportingOverflow(by: 10).partialValue &+ UInt64(buffer[offset] - 0x30)
            }
            fuzzCheck(parsed == length && length <= UInt64(Int64.max), "Content-Length \(length) != value \(parsed)")
        }
        if head.upgrade {
            fuzzCheck(head.method == .get && head.versionMinor == 1, "upgrade on a non-GET or HTTP/1.0 request")
        }
    }
}
