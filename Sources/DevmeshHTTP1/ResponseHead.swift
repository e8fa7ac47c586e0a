/// How the body of a response is delimited (RFC 9112 §6.3, rules 1-3 and 5-8).
public enum ResponseBodyFraming: Sendable, Equatable {
    /// No body: a reply to HEAD, a 1xx, 204 or 304, or a 2xx reply to CONNECT (a tunnel).
    case none
    case contentLength(UInt64)
    case chunked
    /// Neither Content-Length nor Transfer-Encoding: the body ends when the upstream closes.
    case untilClose
}

/// A parsed response head: plain values plus views into the parsed buffer.
public struct ResponseHead {
    /// 100...599.
    public var status: UInt16
    public var reason: UnsafeRawBufferPointer
    public var versionMinor: UInt8
    /// Bytes from the start of the parsed buffer to the end of the final CRLF.
    public var headLength: Int
    public var headerCount: Int
    public var framing: ResponseBodyFraming
    /// Whether the upstream connection may carry another exchange (RFC 9112 §9.3): the version
    /// and `Connection` rules, and never after a body delimited by closing.
    public var keepAlive: Bool
    public var hopByHopCount: Int

    /// A 1xx other than 101: another head follows on the same exchange (RFC 9110 §15.2).
    @inlinable
    public var isInterim: Bool { status >= 100 && status < 200 && status != 101 }

    /// 101: after this head the connection carries the upgraded protocol.
    @inlinable
    public var switchingProtocols: Bool { status == 101 }
}

/// Parses response heads in place, incrementally and without allocating. Upstream responses
/// get the same strictness as client requests: the proxy turns every error into a 502.
public enum ResponseHeadParser {
    /// Parses the response head at the start of `buffer`.
    ///
    /// - Parameters:
    ///   - requestMethod: the method of the request this answers (HEAD and CONNECT change framing).
    ///   - hint: as for `RequestHeadParser.parse`: 0 for a new head, reset to 0 on a final result.
    public static func parse(_ buffer: UnsafeRawBufferPointer, into storage: HeaderStorage,
                             limits: HTTP1Limits, requestMethod: HTTPMethod,
                             scanFrom hint: inout Int) -> ParseStatus<ResponseHead> {
        HeadEndScanner.parseOnceComplete(buffer, storage: storage, limits: limits, skippingEmptyLines: false,
                                         hint: &hint) { bytes, _, headEnd throws(HTTP1Error) in
            try parseHead(bytes, headEnd: headEnd, storage: storage, limits: limits, requestMethod: requestMethod)
        }
    }

    static func parseHead(_ bytes: RawBytes, headEnd: Int, storage: HeaderStorage, limits: HTTP1Limits,
                          requestMethod: HTTPMethod) throws(HTTP1Error) -> ResponseHead {
        let line = try StartLine.parseStatus(bytes, headEnd: headEnd)
        var facts = FieldFacts()
        let count = try FieldLineParser.parse(bytes, from: line.next, to: headEnd - 2, into: storage,
                                              maxCount: limits.maxHeaderCount, meaning: .response,
                                              facts: &facts)
        storage.count = count
        let status = line.status
        let minor = line.versionMinor
        try facts.validateFraming(versionMinor: minor)

        let framing = framing(status: status, requestMethod: requestMethod, facts: facts)
        let switching = status == 101
        if switching || facts.connectionNamesFields {
            HopByHop.finish(storage, count: count, facts: &facts, keepUpgradeLines: switching)
        }
        return ResponseHead(status: status, reason: bytes.view(line.reasonStart, line.reasonEnd),
                            versionMinor: minor, headLength: headEnd, headerCount: count, framing: framing,
                            keepAlive: framing != .untilClose && facts.persists(versionMinor: minor),
                            hopByHopCount: facts.hopByHopCount)
    }

    /// RFC 9112 §6.3, in its order: a HEAD reply and 1xx/204/304 never have a body, nor does a
    /// 2xx reply to CONNECT; then chunked, then Content-Length, else the body runs until close.
    static func framing(status: UInt16, requestMethod: HTTPMethod, facts: FieldFacts) -> ResponseBodyFraming {
        if requestMethod == .head || status < 200 || status == 204 || status == 304 {
            return .none
        }
        if requestMethod == .connect && status < 300 {
            return .none
        }
        if facts.transferCodings.present {
            return .chunked
        }
        if let length = facts.contentLength {
            return .contentLength(length)
        }
        return .untilClose
    }
}
