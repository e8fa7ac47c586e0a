import DevmeshBytes

/// The parts of gRPC over HTTP/2 a proxy must understand (grpc/grpc PROTOCOL-HTTP2.md): what a
/// gRPC request looks like, its deadline header, and how a proxy states its own errors.
enum GRPC {
    // Status codes (grpc/grpc doc/statuscodes.md).
    static let ok = 0
    static let cancelled = 1
    static let deadlineExceeded = 4
    static let unimplemented = 12
    static let `internal` = 13
    static let unavailable = 14

    /// `content-type: application/grpc` or `application/grpc+…` / `application/grpc;…`.
    static func isGRPCContentType(_ value: UnsafeRawBufferPointer) -> Bool {
        guard ASCII.hasPrefixCaseInsensitive(value, lowercased: "application/grpc") else { return false }
        if value.count == 16 { return true }
        let next = value[16]
        return next == UInt8(ascii: "+") || next == UInt8(ascii: ";")
    }

    /// `grpc-timeout`: up to 8 ASCII digits and a unit (H, M, S, m, u, n). Nil when malformed
    /// (the call then has no deadline of its own, as gRPC servers treat it).
    static func parseTimeoutMilliseconds(_ value: UnsafeRawBufferPointer) -> Int64? {
        guard value.count >= 2, value.count <= 9 else { return nil }
        var amount: Int64 = 0
        for byte in value.dropLast() {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            amount = amount * 10 + Int64(byte - 0x30)
        }
        switch value[value.count - 1] {
        case UInt8(ascii: "H"): return amount * 3_600_000
        case UInt8(ascii: "M"): return amount * 60_000
        case UInt8(ascii: "S"): return amount * 1000
        case UInt8(ascii: "m"): return amount
        case UInt8(ascii: "u"): return (amount + 999) / 1000
        case UInt8(ascii: "n"): return (amount + 999_999) / 1_000_000
        default: return nil
        }
    }

    /// The gRPC status a proxy failure becomes: UNAVAILABLE when the upstream could not serve the
    /// call, DEADLINE_EXCEEDED on timeouts, INTERNAL for a response that broke protocol.
    static func statusCode(for failure: UpstreamFailure) -> Int {
        switch failure {
        case .connectTimeout, .responseTimeout, .streamIdleTimeout: deadlineExceeded
        case .malformedResponse: `internal`
        case .connectRefused, .connectError, .noEndpoint, .poolExhausted, .reset, .closedEarly, .resourcesExhausted:
            unavailable
        }
    }

    /// A trailers-only response (`:status 200`, content type, `grpc-status`, `grpc-message`).
    static func appendTrailersOnly(to block: HeaderBlock, code: Int, message: String) {
        block.append(name: ":status", value: "200")
        block.append(name: "content-type", value: "application/grpc")
        appendStatus(to: block, code: code, message: message)
    }

    /// `grpc-status` and a percent-encoded `grpc-message` (PROTOCOL-HTTP2.md: space through `~`
    /// except `%` pass as they are).
    static func appendStatus(to block: HeaderBlock, code: Int, message: String) {
        let codeText = Array(String(code).utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(message.utf8.count)
        let hex: StaticString = "0123456789ABCDEF"
        for byte in message.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
                encoded.append(byte)
            } else {
                encoded.append(UInt8(ascii: "%"))
                encoded.append(hex.utf8Start[Int(byte >> 4)])
                encoded.append(hex.utf8Start[Int(byte & 15)])
            }
        }
        codeText.withUnsafeBytes { block.append(name: "grpc-status", value: $0) }
        encoded.withUnsafeBytes { block.append(name: "grpc-message", value: $0) }
    }
}
