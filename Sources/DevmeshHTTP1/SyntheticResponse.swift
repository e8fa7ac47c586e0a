/// Statuses the proxy answers by itself, with their RFC 9110 §15 reason phrases.
public enum SyntheticStatus: UInt16, Sendable, CaseIterable {
    case badRequest = 400
    case notFound = 404
    case requestTimeout = 408
    case contentTooLarge = 413
    case uriTooLong = 414
    case requestHeaderFieldsTooLarge = 431
    case notImplemented = 501
    case badGateway = 502
    case serviceUnavailable = 503
    case gatewayTimeout = 504
    case httpVersionNotSupported = 505

    public var reasonPhrase: StaticString {
        switch self {
        case .badRequest: "Bad Request"
        case .notFound: "Not Found"
        case .requestTimeout: "Request Timeout"
        case .contentTooLarge: "Content Too Large"
        case .uriTooLong: "URI Too Long"
        case .requestHeaderFieldsTooLarge: "Request Header Fields Too Large"
        case .notImplemented: "Not Implemented"
        case .badGateway: "Bad Gateway"
        case .serviceUnavailable: "Service Unavailable"
        case .gatewayTimeout: "Gateway Timeout"
        case .httpVersionNotSupported: "HTTP Version Not Supported"
        }
    }
}

extension HTTP1Error {
    /// The response the proxy sends a client whose request broke this rule.
    public var syntheticStatus: SyntheticStatus {
        switch status {
        case 431: .requestHeaderFieldsTooLarge
        case 501: .notImplemented
        case 505: .httpVersionNotSupported
        default: .badRequest
        }
    }
}

/// Writes the proxy's own small responses into a caller buffer, without allocating:
///
/// ```
/// HTTP/1.1 502 Bad Gateway\r\n
/// content-type: text/plain; charset=utf-8\r\n
/// content-length: 31\r\n
/// connection: close\r\n          (optional)
/// \r\n
/// Bad Gateway: upstream refused\n  (the reason phrase, then ": detail" when one is given)
/// ```
public enum SyntheticResponse {
    /// Enough for any status with a detail of up to 200 bytes.
    public static let recommendedCapacity = 512

    /// - Parameters:
    ///   - detail: an optional short text for the body, such as an `HTTP1Error.slug`.
    ///   - closeConnection: adds `connection: close`.
    ///   - omitBody: for a reply to HEAD: the headers announce the body, the body is not sent.
    /// - Returns: the number of bytes written, or nil when `buffer` is too small (its content is
    ///   then unspecified).
    public static func write(_ status: SyntheticStatus, detail: StaticString = "", closeConnection: Bool,
                             omitBody: Bool = false, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let hasDetail = detail.utf8CodeUnitCount > 0
        let bodyLength = status.reasonPhrase.utf8CodeUnitCount + (hasDetail ? 2 + detail.utf8CodeUnitCount : 0) + 1
        var writer = ByteWriter(buffer)
        writer.append("HTTP/1.1 ")
        writer.append(decimal: UInt64(status.rawValue))
        writer.append(" ")
        writer.append(status.reasonPhrase)
        writer.append("\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ")
        writer.append(decimal: UInt64(bodyLength))
        writer.append("\r\n")
        if closeConnection { writer.append("connection: close\r\n") }
        writer.append("\r\n")
        if !omitBody {
            writer.append(status.reasonPhrase)
            if hasDetail {
                writer.append(": ")
                writer.append(detail)
            }
            writer.append("\n")
        }
        return writer.overflowed ? nil : writer.count
    }
}

/// Appends bytes to a fixed buffer and remembers whether anything did not fit.
struct ByteWriter {
    private let buffer: UnsafeMutableRawBufferPointer
    private(set) var count = 0
    private(set) var overflowed = false

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
    }

    mutating func append(_ text: StaticString) {
        let length = text.utf8CodeUnitCount
        guard length > 0 else { return }
        guard !overflowed, length <= buffer.count - count else {
            overflowed = true
            return
        }
        // SAFETY: count + length <= buffer.count was checked just above.
        (buffer.baseAddress! + count).copyMemory(from: text.utf8Start, byteCount: length)
        count += length
    }

    mutating func append(decimal value: UInt64) {
        var digits = 1
        var rest = value / 10
        while rest > 0 { digits += 1; rest /= 10 }
        guard !overflowed, digits <= buffer.count - count else {
            overflowed = true
            return
        }
        var remaining = value
        // SAFETY: count + digits <= buffer.count was checked just above.
        for position in stride(from: count + digits - 1, through: count, by: -1) {
            buffer[position] = UInt8(truncatingIfNeeded: remaining % 10) + UInt8(ascii: "0")
            remaining /= 10
        }
        count += digits
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        guard !overflowed, bytes.count <= buffer.count - count else {
            overflowed = true
            return
        }
        // SAFETY: count + bytes.count <= buffer.count was checked just above.
        (buffer.baseAddress! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    mutating func append(hex value: UInt64) {
        var digits = 1
        var rest = value >> 4
        while rest > 0 { digits += 1; rest >>= 4 }
        guard !overflowed, digits <= buffer.count - count else {
            overflowed = true
            return
        }
        let alphabet: StaticString = "0123456789abcdef"
        var remaining = value
        // SAFETY: count + digits <= buffer.count was checked just above.
        for position in stride(from: count + digits - 1, through: count, by: -1) {
            buffer[position] = alphabet.utf8Start[Int(remaining & 15)]
            remaining >>= 4
        }
        count += digits
    }
}
