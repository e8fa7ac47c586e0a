/// The header fields whose meaning the HTTP/1.1 codec needs, identified once per line while
/// parsing so that nothing later compares names again. Everything else is `other`.
public enum KnownHeader: UInt8, Sendable, CaseIterable {
    case other = 0
    case host
    case contentLength
    case transferEncoding
    case connection
    case keepAlive
    case proxyConnection
    case te
    case upgrade
    case http2Settings
    case expect
    case trailer

    /// Classifies a field name, ignoring ASCII case (RFC 9110 §5.1).
    ///
    /// The name must already be a valid token. That is what makes the `| 0x20` folding below
    /// exact: for a lower-case letter the only other byte that folds onto it is its upper-case
    /// form, and for `-` or a digit the other candidate is a control byte, which no token holds.
    @inlinable
    public init(name: UnsafeRawBufferPointer) {
        // Dispatch on length first: most names are rejected without reading a byte.
        switch name.count {
        case 2:
            self = Self.name(name, is: "te") ? .te : .other
        case 4:
            self = Self.name(name, is: "host") ? .host : .other
        case 6:
            self = Self.name(name, is: "expect") ? .expect : .other
        case 7:
            if Self.name(name, is: "upgrade") { self = .upgrade }
            else if Self.name(name, is: "trailer") { self = .trailer }
            else { self = .other }
        case 10:
            if Self.name(name, is: "connection") { self = .connection }
            else if Self.name(name, is: "keep-alive") { self = .keepAlive }
            else { self = .other }
        case 14:
            if Self.name(name, is: "content-length") { self = .contentLength }
            else if Self.name(name, is: "http2-settings") { self = .http2Settings }
            else { self = .other }
        case 16:
            self = Self.name(name, is: "proxy-connection") ? .proxyConnection : .other
        case 17:
            self = Self.name(name, is: "transfer-encoding") ? .transferEncoding : .other
        default:
            self = .other
        }
    }

    /// Fields that describe the connection rather than the message (RFC 9110 §7.6.1) and so are
    /// never forwarded: Connection, Keep-Alive, Proxy-Connection, TE, Upgrade and HTTP2-Settings.
    /// Transfer-Encoding is deliberately absent: chunked bodies are forwarded raw, with their line.
    /// Upgrade and Connection are kept for a WebSocket upgrade; the parsers decide that.
    @inlinable
    public var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .te, .upgrade, .http2Settings: true
        case .other, .host, .contentLength, .transferEncoding, .expect, .trailer: false
        }
    }

    /// Case-insensitive comparison of a token with a lower-case literal of the same length.
    @inlinable
    static func name(_ name: UnsafeRawBufferPointer, is lowercased: StaticString) -> Bool {
        assert(name.count == lowercased.utf8CodeUnitCount)
        // SAFETY: the `switch` in `init(name:)` picks literals of exactly `name.count` bytes, so
        // `index` stays inside the literal's storage.
        let expected = lowercased.utf8Start
        for index in 0..<name.count where name[index] | 0x20 != expected[index] {
            return false
        }
        return true
    }
}
