/// The request methods the proxy treats specially, plus `other` for every other token
/// (the bytes stay available in `RequestHead.methodBytes`). Methods are case-sensitive
/// (RFC 9110 §9.1): `get` is an `other` method, not GET.
public enum HTTPMethod: UInt8, Sendable, CaseIterable {
    case get, head, post, put, delete, connect, options, trace, patch, other

    /// Classifies a method token by its exact bytes.
    @inlinable
    public init(_ token: UnsafeRawBufferPointer) {
        switch token.count {
        case 3:
            if Self.token(token, is: "GET") { self = .get; return }
            if Self.token(token, is: "PUT") { self = .put; return }
        case 4:
            if Self.token(token, is: "POST") { self = .post; return }
            if Self.token(token, is: "HEAD") { self = .head; return }
        case 5:
            if Self.token(token, is: "PATCH") { self = .patch; return }
            if Self.token(token, is: "TRACE") { self = .trace; return }
        case 6:
            if Self.token(token, is: "DELETE") { self = .delete; return }
        case 7:
            if Self.token(token, is: "OPTIONS") { self = .options; return }
            if Self.token(token, is: "CONNECT") { self = .connect; return }
        default:
            break
        }
        self = .other
    }

    /// RFC 9110 §9.2.2: the safe methods (GET, HEAD, OPTIONS, TRACE) plus PUT and DELETE may be
    /// repeated with the same effect, so the proxy may retry them after a failed attempt.
    @inlinable
    public var isIdempotent: Bool {
        switch self {
        case .get, .head, .options, .trace, .put, .delete: true
        case .post, .connect, .patch, .other: false
        }
    }

    /// Exact comparison; the caller has already checked that the lengths are equal.
    @inlinable
    static func token(_ token: UnsafeRawBufferPointer, is expected: StaticString) -> Bool {
        assert(token.count == expected.utf8CodeUnitCount)
        // SAFETY: `index` < token.count == expected.utf8CodeUnitCount (the `switch` above picks
        // the literal by length), so the literal's storage is read in bounds.
        let bytes = expected.utf8Start
        for index in 0..<token.count where token[index] != bytes[index] {
            return false
        }
        return true
    }
}
