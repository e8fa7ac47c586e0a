import DevmeshBytes

/// What the field lines of one head say about framing, the connection and the host,
/// gathered in the same pass that records the lines, then judged by the head parsers.
struct FieldFacts {
    var contentLength: UInt64? = nil
    var transferCodings = TransferCodings()
    var hostCount = 0
    var hostIndex = -1
    /// `Connection` tokens (RFC 9112 §9.3, §9.6; RFC 9110 §7.8).
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false
    /// Some `Connection` token names another field, which must then be dropped (RFC 9110 §7.6.1).
    var connectionNamesFields = false
    /// An `Upgrade` line lists the `websocket` protocol (RFC 6455 §4.1).
    var upgradeListsWebSocket = false
    var expectContinue = false
    var hopByHopCount = 0

    init() {}

    /// Takes in one field line and says whether it is hop-by-hop by its name alone.
    /// `isRequest` turns on the request-only rules (Host, Expect).
    mutating func record(_ kind: KnownHeader, value: UnsafeRawBufferPointer, index: Int,
                         isRequest: Bool) throws(HTTP1Error) -> Bool {
        switch kind {
        case .other, .trailer:
            return false
        case .host:
            guard isRequest else { return false }
            // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
            // HTTP/1.1 request message that lacks a Host header field and to any request message
            // that contains more than one Host header field line or a Host header field with an
            // invalid field value."
            hostCount += 1
            guard hostCount == 1 else { throw .duplicateHost }
            guard HostValue.isValid(value) else { throw .invalidHost }
            hostIndex = index
            return false
        case .contentLength:
            guard contentLength == nil else { throw .duplicateContentLength }
            contentLength = try ContentLengthValue.parse(value)
            return false
        case .transferEncoding:
            transferCodings.add(value)
            return false
        case .connection:
            for token in ListElements(value) {
                if ASCII.equalsCaseInsensitive(token, lowercased: "close") {
                    connectionClose = true
                } else if ASCII.equalsCaseInsensitive(token, lowercased: "keep-alive") {
                    connectionKeepAlive = true
                } else if ASCII.equalsCaseInsensitive(token, lowercased: "upgrade") {
                    connectionUpgrade = true
                } else {
                    connectionNamesFields = true
                }
            }
            return true
        case .upgrade:
            // protocol = protocol-name ["/" protocol-version] (RFC 9110 §7.8)
            for element in ListElements(value)
            where ASCII.equalsCaseInsensitive(element.leadingToken, lowercased: "websocket") {
                upgradeListsWebSocket = true
            }
            return true
        case .expect:
            // RFC 9110 §10.1.1: the only expectation defined is "100-continue", case-insensitive.
            if isRequest {
                for element in ListElements(value)
                where ASCII.equalsCaseInsensitive(element, lowercased: "100-continue") {
                    expectContinue = true
                }
            }
            return false
        case .keepAlive, .proxyConnection, .te, .http2Settings:
            return true
        }
    }

    /// The one framing rule shared by requests and responses (RFC 9112 §6.1, §6.3): a message
    /// with both Content-Length and Transfer-Encoding is refused (a smuggling vector), as is
    /// Transfer-Encoding in HTTP/1.0, then the coding list itself is judged.
    func validateFraming(versionMinor: UInt8) throws(HTTP1Error) {
        guard transferCodings.present else { return }
        if contentLength != nil { throw .contentLengthWithTransferEncoding }
        if versionMinor == 0 { throw .transferEncodingOnHTTP10 }
        try transferCodings.validate()
    }

    /// RFC 9112 §9.3: HTTP/1.1 persists unless `close` is listed; HTTP/1.0 only with `keep-alive`.
    func persists(versionMinor: UInt8) -> Bool {
        if connectionClose { return false }
        return versionMinor == 1 || connectionKeepAlive
    }
}

/// Content-Length = 1*DIGIT (RFC 9110 §8.6).
enum ContentLengthValue {
    /// The largest length we accept, so that lengths fit an `Int` everywhere in the proxy.
    static let maximum = UInt64(Int64.max)

    /// A list (`5, 5`) counts as a duplicate even when the values agree: RFC 9110 §8.6 allows a
    /// recipient to collapse identical values, but the stricter anchors refuse, and so do we.
    static func parse(_ value: UnsafeRawBufferPointer) throws(HTTP1Error) -> UInt64 {
        guard !value.isEmpty else { throw .invalidContentLength }
        var length: UInt64 = 0
        for (index, byte) in value.enumerated() {
            let digit = UInt64(byte &- Byte.zero)
            guard digit < 10 else {
                throw byte == Byte.comma && index > 0 ? .duplicateContentLength : .invalidContentLength
            }
            guard length <= (maximum - digit) / 10 else { throw .invalidContentLength }
            length = length * 10 + digit
        }
        return length
    }
}

/// Host = uri-host [ ":" port ] (RFC 9110 §7.2). We check the byte set, not the full grammar:
/// reg-name characters (unreserved, sub-delims, pct-encoded), IP-literal brackets and the port
/// colon. That refuses what matters (SP, CTL, `/`, `?`, `#`, `@`, quotes) at the cost of a mask.
/// An empty value is valid (RFC 9112 §3.2).
enum HostValue {
    static func isValid(_ value: UnsafeRawBufferPointer) -> Bool {
        // Bit n set when byte n is allowed: ! $ % & ' ( ) * + , - . 0-9 : ; =
        let below64: UInt64 = 0x2FFF_7FF2_0000_0000
        // Bit n set when byte 64 + n is allowed: A-Z [ ] _ a-z ~
        let from64: UInt64 = 0x47FF_FFFE_AFFF_FFFE
        for byte in value {
            let mask = byte < 64 ? below64 : from64
            guard byte < 128, (mask >> UInt64(byte & 63)) & 1 != 0 else { return false }
        }
        return true
    }
}
