import DevmeshBytes

/// The HTTP message rules of RFC 9113 §8 for one stream's received side: each field as it is
/// decoded, each header block when it ends, each DATA chunk and the end of the stream. A message
/// that breaks one is malformed (§8.1.1), and the session resets the stream with PROTOCOL_ERROR
/// without delivering it.
///
/// These are the rules libnghttp2 1.52 enforced while its HTTP messaging was on, with its
/// choices where the RFC leaves room (see the list in ARCHITECTURE.md, "HTTP/2"); the sessions
/// turn that option off (`nghttp2_option_set_no_http_messaging`) so each field is walked once, in
/// the session's own header callback. `MessageRuleTests` pins one row per rule and
/// `LibraryParityTests` compares the outcome with a session where nghttp2 still checks.
///
/// A plain value kept in the stream's slot (`StreamState.message`); nothing is allocated.
struct MessageState {
    var flags = MessageFlags()
    /// The declared `content-length` (-1: none, or a body of unknown length such as CONNECT's).
    var contentLength: Int64 = -1
    /// DATA payload bytes received so far (padding excluded).
    var receivedBodyBytes: Int64 = 0
    /// The response's `:status` (-1 until one arrives, and again after a 1xx).
    var status: Int32 = -1
}

/// What to do with one received field.
enum FieldVerdict: Equatable {
    /// Valid: deliver it.
    case accept
    /// Valid, and a regular field no rule singles out: it would be valid in any block of any
    /// stream of this connection (`KnownFieldCache` may remember it).
    case acceptPlain
    /// Valid but not delivered: a `content-length: 0` in a 204 response, a content-length in a
    /// 2xx answer to CONNECT (nghttp2 removed those rather than pass them on).
    case drop
    /// The message is malformed.
    case malformed
    /// Malformed because of a byte that may not appear in a field name or value: counted apart
    /// as an invalid header field (nghttp2 reported those through its invalid-header callback).
    case invalidField
}

/// Where a response head leaves the stream.
enum ResponseHeadOutcome: Equatable {
    case malformed
    /// 1xx: a final response is still to come (RFC 9110 §15.2).
    case informational
    case final
}

struct MessageFlags: OptionSet {
    let rawValue: UInt32

    // Pseudo-header fields (and host) seen in the current head.
    static let method = MessageFlags(rawValue: 1 << 0)
    static let scheme = MessageFlags(rawValue: 1 << 1)
    static let authority = MessageFlags(rawValue: 1 << 2)
    static let path = MessageFlags(rawValue: 1 << 3)
    static let status = MessageFlags(rawValue: 1 << 4)
    static let host = MessageFlags(rawValue: 1 << 5)
    /// A regular field was seen: a pseudo-header now is out of place (RFC 9113 §8.3).
    static let regularFieldSeen = MessageFlags(rawValue: 1 << 6)
    // The request's method, as it shapes the response (kept across 1xx responses).
    static let methodHead = MessageFlags(rawValue: 1 << 7)
    static let methodConnect = MessageFlags(rawValue: 1 << 8)
    static let methodOptions = MessageFlags(rawValue: 1 << 9)
    /// `:path` starts with '/' or is "*".
    static let pathRegular = MessageFlags(rawValue: 1 << 10)
    static let pathAsterisk = MessageFlags(rawValue: 1 << 11)
    /// `:scheme` is http or https (either case): then the path must be origin-form or "*".
    static let schemeHTTP = MessageFlags(rawValue: 1 << 12)
    /// A 1xx arrived: the next HEADERS is a response again, and DATA may not come yet.
    static let expectFinalResponse = MessageFlags(rawValue: 1 << 13)

    static let requestMethods: MessageFlags = [.methodHead, .methodConnect, .methodOptions]
}

/// The regular field names the rules single out, found by length, then a word compare.
private enum SpecialName {
    case none, te, host, contentLength, connectionSpecific

    @inline(__always)
    init(_ name: UnsafeRawBufferPointer) {
        switch name.count {
        case 2: self = ASCII.equalsExactly(name, "te") ? .te : .none
        case 4: self = ASCII.equalsExactly(name, "host") ? .host : .none
        case 7: self = ASCII.equalsExactly(name, "upgrade") ? .connectionSpecific : .none
        case 10:
            self = ASCII.equalsExactly(name, "connection") || ASCII.equalsExactly(name, "keep-alive")
                ? .connectionSpecific : .none
        case 14: self = ASCII.equalsExactly(name, "content-length") ? .contentLength : .none
        case 16: self = ASCII.equalsExactly(name, "proxy-connection") ? .connectionSpecific : .none
        case 17: self = ASCII.equalsExactly(name, "transfer-encoding") ? .connectionSpecific : .none
        default: self = .none
        }
    }
}

extension MessageState {
    // MARK: Fields

    /// A field of a request head (`trailers`: of the request's trailer section). Server role.
    @inline(__always)
    mutating func requestField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                               trailers: Bool) -> FieldVerdict {
        guard let base = name.baseAddress, !name.isEmpty else { return .invalidField }
        // SAFETY: the name is not empty.
        if base.load(as: UInt8.self) == UInt8(ascii: ":") {
            return requestPseudoField(name: name, value: value, trailers: trailers) ? .accept : .malformed
        }
        let special = SpecialName(name)
        switch special {
        case .host:
            // RFC 9113 §8.3.1: host stands in for :authority, so it gets :authority's checks,
            // and like a pseudo-header it may appear once, not empty.
            guard FieldSyntax.isAuthority(value) else { return .invalidField }
            guard !flags.contains(.host), !value.isEmpty else { return .malformed }
            flags.insert(.host)
        case .contentLength:
            if let verdict = declareContentLength(value) { return verdict }
        case .te, .connectionSpecific:
            if let verdict = connectionField(special, value: value) { return verdict }
        case .none:
            if let verdict = regularFieldSyntax(name: name, value: value) { return verdict }
            flags.insert(.regularFieldSeen)
            return .acceptPlain
        }
        flags.insert(.regularFieldSeen)
        return .accept
    }

    /// RFC 9113 §8.3.1: the four request pseudo-headers, each at most once, before every regular
    /// field, never in trailers; nothing else starting with ':' (§8.3: "Endpoints MUST treat a
    /// request or response that contains undefined or invalid pseudo-header fields as
    /// malformed"). `:protocol` (RFC 8441) counts as undefined: devmesh does not send
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL.
    @inline(__always)
    private mutating func requestPseudoField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                                             trailers: Bool) -> Bool {
        if trailers || flags.contains(.regularFieldSeen) { return false }
        switch name.count {
        case 5 where ASCII.equalsExactly(name, ":path"):
            guard !flags.contains(.path), FieldSyntax.isPath(value) else { return false }
            flags.insert(.path)
            // SAFETY: isPath refuses an empty value.
            let first = value.baseAddress!.load(as: UInt8.self)
            if first == UInt8(ascii: "/") {
                flags.insert(.pathRegular)
            } else if value.count == 1 && first == UInt8(ascii: "*") {
                flags.insert(.pathAsterisk)
            }
        case 7 where ASCII.equalsExactly(name, ":method"):
            guard !flags.contains(.method), FieldSyntax.isMethod(value) else { return false }
            flags.insert(.method)
            if ASCII.equalsExactly(value, "HEAD") {
                flags.insert(.methodHead)
            } else if ASCII.equalsExactly(value, "CONNECT") {
                flags.insert(.methodConnect)
            } else if ASCII.equalsExactly(value, "OPTIONS") {
                flags.insert(.methodOptions)
            }
        case 7 where ASCII.equalsExactly(name, ":scheme"):
            guard !flags.contains(.scheme) else { return false }
            // "http" and "https" as sent (lower case) first: a word compare each.
            if ASCII.equalsExactly(value, "http") || ASCII.equalsExactly(value, "https") {
                flags.insert([.scheme, .schemeHTTP])
                return true
            }
            guard FieldSyntax.isScheme(value) else { return false }
            flags.insert(.scheme)
            if ASCII.equalsCaseInsensitive(value, lowercased: "http")
                || ASCII.equalsCaseInsensitive(value, lowercased: "https") {
                flags.insert(.schemeHTTP)
            }
        case 10 where ASCII.equalsExactly(name, ":authority"):
            guard !flags.contains(.authority), !value.isEmpty, FieldSyntax.isAuthority(value) else { return false }
            flags.insert(.authority)
        default:
            return false
        }
        return true
    }

    /// A field of a response head (`trailers`: of the response's trailer section). Client role.
    @inline(__always)
    mutating func responseField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                                trailers: Bool) -> FieldVerdict {
        guard let base = name.baseAddress, !name.isEmpty else { return .invalidField }
        // SAFETY: the name is not empty.
        if base.load(as: UInt8.self) == UInt8(ascii: ":") {
            return responseStatusField(name: name, value: value, trailers: trailers) ? .accept : .malformed
        }
        let special = SpecialName(name)
        switch special {
        case .contentLength:
            guard FieldSyntax.isFieldValue(value) else { return .invalidField }
            if status == 204 {
                // RFC 9110 §8.6: no content-length in a 204. A "0" was common enough that
                // nghttp2 took it (once) and dropped it instead of failing the response.
                guard contentLength == -1, value.count == 1, value[0] == UInt8(ascii: "0") else { return .malformed }
                contentLength = 0
                return .drop
            }
            if status / 100 == 1 { return .malformed }
            // RFC 9110 §8.6: a 2xx answer to CONNECT has no content; its length is ignored.
            if status / 100 == 2 && flags.contains(.methodConnect) { return .drop }
            if let verdict = declareContentLength(value) { return verdict }
        case .te, .connectionSpecific:
            if let verdict = connectionField(special, value: value) { return verdict }
        case .host:
            if let verdict = regularFieldSyntax(name: name, value: value) { return verdict }
        case .none:
            if let verdict = regularFieldSyntax(name: name, value: value) { return verdict }
            flags.insert(.regularFieldSeen)
            return .acceptPlain
        }
        flags.insert(.regularFieldSeen)
        return .accept
    }

    /// RFC 9113 §8.3.2: `:status` is the one response pseudo-header, exactly once: three digits
    /// (RFC 9110 §15), and not 101, which HTTP/2 does not support (§8.6).
    @inline(__always)
    private mutating func responseStatusField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                                              trailers: Bool) -> Bool {
        guard !trailers, !flags.contains(.regularFieldSeen), !flags.contains(.status),
              name.count == 7, ASCII.equalsExactly(name, ":status"), value.count == 3 else { return false }
        let hundreds = value[0] &- 0x30, tens = value[1] &- 0x30, units = value[2] &- 0x30
        guard hundreds < 10, tens < 10, units < 10 else { return false }
        let code = Int32(hundreds) * 100 + Int32(tens) * 10 + Int32(units)
        guard code != 101 else { return false }
        status = code
        flags.insert(.status)
        return true
    }

    /// `content-length` (RFC 9110 §8.6): decimal digits, declared once (nghttp2 refused a second
    /// field even with the same value). Nil when accepted.
    @inline(__always)
    private mutating func declareContentLength(_ value: UnsafeRawBufferPointer) -> FieldVerdict? {
        guard let length = parseLength(value) else {
            return FieldSyntax.isFieldValue(value) ? .malformed : .invalidField
        }
        guard contentLength == -1 else { return .malformed }
        contentLength = length
        return nil
    }

    /// RFC 9113 §8.2.2: connection-specific fields make a message malformed, except `te` with the
    /// value "trailers". Nil when accepted.
    @inline(__always)
    private func connectionField(_ special: SpecialName, value: UnsafeRawBufferPointer) -> FieldVerdict? {
        if special == .te && isTrailers(value) { return nil }
        return FieldSyntax.isFieldValue(value) ? .malformed : .invalidField
    }

    /// The character rules for a field the message rules say nothing more about. Nil when valid.
    @inline(__always)
    private func regularFieldSyntax(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> FieldVerdict? {
        guard FieldSyntax.isLowercaseToken(name) else {
            return FieldSyntax.containsUppercase(name) ? .malformed : .invalidField
        }
        return FieldSyntax.isFieldValue(value) ? nil : .invalidField
    }

    /// "trailers", ignoring ASCII case: eight letters, so one word with the case bit set.
    @inline(__always)
    private func isTrailers(_ value: UnsafeRawBufferPointer) -> Bool {
        guard value.count == 8, let base = value.baseAddress else { return false }
        let trailers: StaticString = "trailers"
        // SAFETY: both sides hold 8 bytes. OR-ing 0x20 maps a byte onto a lower-case letter only
        // from that letter or its upper case, so this is an exact case-insensitive compare.
        return base.loadUnaligned(as: UInt64.self) | 0x2020_2020_2020_2020
            == UnsafeRawPointer(trailers.utf8Start).loadUnaligned(as: UInt64.self)
    }

    /// Decimal digits to a length; nil for anything else (empty, a sign, a list, over Int64).
    /// Leading zeros are fine.
    @inline(__always)
    private func parseLength(_ value: UnsafeRawBufferPointer) -> Int64? {
        guard !value.isEmpty else { return nil }
        var length: Int64 = 0
        for byte in value {
            let digit = byte &- 0x30
            guard digit < 10 else { return nil }
            let (times, overflowA) = length.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times.addingReportingOverflow(Int64(digit))
            guard !overflowA, !overflowB else { return nil }
            length = sum
        }
        return length
    }

    // MARK: The end of a header block

    /// RFC 9113 §8.3.1: a request has :method, :scheme and :path (with :path not empty, "*" only
    /// for OPTIONS, and origin-form for http and https), and an authority (:authority, or host,
    /// which nghttp2 accepted in its place); a CONNECT request (§8.5) has :authority and neither
    /// :scheme nor :path, and its body's length is not known in advance.
    mutating func endOfRequestHead() -> Bool {
        if flags.contains(.methodConnect) {
            guard flags.contains(.authority), !flags.contains(.scheme), !flags.contains(.path) else { return false }
            contentLength = -1
            return true
        }
        guard flags.isSuperset(of: [.method, .scheme, .path]),
              !flags.isDisjoint(with: [.authority, .host]) else { return false }
        if flags.contains(.schemeHTTP) && !flags.contains(.pathRegular)
            && !flags.isSuperset(of: [.methodOptions, .pathAsterisk]) {
            return false
        }
        return true
    }

    /// RFC 9113 §8.3.2: a response has :status. After a 1xx the next block is a response head
    /// again and everything but the request's method starts over; a final response to HEAD, or
    /// a 204 or 304, has no content whatever content-length said (RFC 9110 §6.4.1); a 2xx
    /// answer to CONNECT is a tunnel of unknown length.
    mutating func endOfResponseHead() -> ResponseHeadOutcome {
        guard flags.contains(.status) else { return .malformed }
        if status / 100 == 1 {
            flags = flags.intersection(MessageFlags.requestMethods).union(.expectFinalResponse)
            contentLength = -1
            status = -1
            return .informational
        }
        flags.remove(.expectFinalResponse)
        if flags.contains(.methodHead) || status == 204 || status == 304 {
            contentLength = 0
        } else if flags.contains(.methodConnect) {
            contentLength = -1
        }
        return .final
    }

    /// The peer's side of the stream ends (END_STREAM on HEADERS or DATA): a final response must
    /// have come, and the body must be as long as content-length said (RFC 9113 §8.1.1).
    func endOfStream() -> Bool {
        !flags.contains(.expectFinalResponse) && (contentLength == -1 || contentLength == receivedBodyBytes)
    }

    // MARK: Body

    /// `count` (> 0) body bytes arrived: malformed once they exceed content-length, or while a
    /// final response is still to come.
    @inline(__always)
    mutating func dataReceived(_ count: Int) -> Bool {
        receivedBodyBytes &+= Int64(count)
        return !flags.contains(.expectFinalResponse) && (contentLength == -1 || receivedBodyBytes <= contentLength)
    }

    /// Client role: the method of the request this stream sends, which decides whether a
    /// response has a body (HEAD) or is a tunnel (CONNECT).
    mutating func recordRequestMethod(_ method: UnsafeRawBufferPointer) {
        if ASCII.equalsExactly(method, "HEAD") {
            flags.insert(.methodHead)
        } else if ASCII.equalsExactly(method, "CONNECT") {
            flags.insert(.methodConnect)
        }
    }

    var expectsFinalResponse: Bool { flags.contains(.expectFinalResponse) }

    /// A field `KnownFieldCache` remembered (an `acceptPlain` one) arrived again: all that is
    /// left to note is that a regular field was seen.
    @inline(__always)
    mutating func knownPlainField() {
        flags.insert(.regularFieldSeen)
    }
}
