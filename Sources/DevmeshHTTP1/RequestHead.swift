/// How the body of a request is delimited (RFC 9112 §6.3, rules 4-7 for requests).
public enum RequestBodyFraming: Sendable, Equatable {
    /// No Content-Length and no Transfer-Encoding: the request has no body.
    case none
    case contentLength(UInt64)
    case chunked
}

/// A parsed request head: plain values plus views into the parsed buffer (valid while that
/// buffer is unchanged). The field lines are in the `HeaderStorage` passed to the parser.
public struct RequestHead {
    public var method: HTTPMethod
    /// The method token exactly as received (case-sensitive).
    public var methodBytes: UnsafeRawBufferPointer
    public var target: UnsafeRawBufferPointer
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: UInt8
    /// Offset of the request line: greater than 0 only when empty lines preceded it, which
    /// RFC 9112 §2.2 asks a server to ignore. Those bytes are consumed but not forwarded.
    public var startLineOffset: Int
    /// Bytes from the start of the parsed buffer to the end of the final CRLF: the body, or the
    /// next pipelined request, starts here.
    public var headLength: Int
    public var headerCount: Int
    public var framing: RequestBodyFraming
    /// Whether the client connection may carry another request after this one (RFC 9112 §9.3).
    public var keepAlive: Bool
    /// `Expect: 100-continue` (RFC 9110 §10.1.1).
    public var expectContinue: Bool
    /// A WebSocket upgrade: HTTP/1.1 GET whose `Connection` lists `upgrade` and whose `Upgrade`
    /// lists `websocket`. Those two lines are then kept; any other upgrade (h2c, ...) is not
    /// honoured and its lines are hop-by-hop (RFC 9110 §7.8).
    public var upgrade: Bool
    /// Index of the Host field in the storage, or -1 (only possible for HTTP/1.0).
    public var hostIndex: Int
    /// How many lines are marked hop-by-hop: 0 means the head can be forwarded as it came.
    public var hopByHopCount: Int

    /// RFC 9110 §9.2.2: may the proxy send this request again after a failed attempt?
    @inlinable
    public var isIdempotent: Bool { method.isIdempotent }
}

/// Parses request heads in place, incrementally and without allocating.
public enum RequestHeadParser {
    /// Parses the request head at the start of `buffer`.
    ///
    /// - Parameters:
    ///   - buffer: the bytes received so far for this request (the head starts at offset 0).
    ///   - storage: receives the field lines; its capacity must be >= `limits.maxHeaderCount`.
    ///   - hint: 0 for a new request; pass back the same variable on every call for that request
    ///     so that the search for the end of the head resumes where it stopped. It is reset to 0
    ///     when a result other than `.incomplete` is returned.
    /// - Returns: `.incomplete` until the whole head is buffered (or a rule is already broken),
    ///   then `.complete` or `.invalid`.
    public static func parse(_ buffer: UnsafeRawBufferPointer, into storage: HeaderStorage,
                             limits: HTTP1Limits, scanFrom hint: inout Int) -> ParseStatus<RequestHead> {
        HeadEndScanner.parseOnceComplete(buffer, storage: storage, limits: limits, skippingEmptyLines: true,
                                         hint: &hint) { bytes, firstLine, headEnd throws(HTTP1Error) in
            try parseHead(bytes, firstLine: firstLine, headEnd: headEnd, storage: storage, limits: limits)
        }
    }

    static func parseHead(_ bytes: RawBytes, firstLine: Int, headEnd: Int, storage: HeaderStorage,
                          limits: HTTP1Limits) throws(HTTP1Error) -> RequestHead {
        let line = try StartLine.parseRequest(bytes, from: firstLine, headEnd: headEnd)
        var facts = FieldFacts()
        let count = try FieldLineParser.parse(bytes, from: line.next, to: headEnd - 2, into: storage,
                                              maxCount: limits.maxHeaderCount, meaning: .request,
                                              facts: &facts)
        storage.count = count
        let minor = line.versionMinor
        let methodBytes = bytes.view(firstLine, line.methodEnd)
        let method = HTTPMethod(methodBytes)

        try facts.validateFraming(versionMinor: minor)
        // RFC 9112 §3.2: HTTP/1.1 requires exactly one Host (duplicates were refused as seen).
        if minor == 1, facts.hostCount == 0 { throw .missingHost }

        let framing: RequestBodyFraming
        if facts.transferCodings.present {
            framing = .chunked
        } else if let length = facts.contentLength {
            framing = .contentLength(length)
        } else {
            framing = .none
        }
        // RFC 9110 §7.8: Upgrade is ignored in HTTP/1.0; RFC 6455 §4.1: the handshake is a GET.
        let upgrade = minor == 1 && method == .get && facts.connectionUpgrade && facts.upgradeListsWebSocket
        if upgrade || facts.connectionNamesFields {
            HopByHop.finish(storage, count: count, facts: &facts, keepUpgradeLines: upgrade)
        }
        return RequestHead(method: method, methodBytes: methodBytes,
                           target: bytes.view(line.targetStart, line.targetEnd),
                           versionMinor: minor, startLineOffset: firstLine, headLength: headEnd,
                           headerCount: count, framing: framing, keepAlive: facts.persists(versionMinor: minor),
                           expectContinue: facts.expectContinue, upgrade: upgrade, hostIndex: facts.hostIndex,
                           hopByHopCount: facts.hopByHopCount)
    }
}
